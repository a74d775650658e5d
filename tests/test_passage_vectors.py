"""Passage vectors made from sentence vectors (USE), and whole-passage vectors for the other embedders."""

from pathlib import Path

import numpy as np
import pytest

from index import passage_vectors
from index.build import build_index
from index.embed_cache import EmbeddingCache
from index.store import load_index
from tests.test_build import CountingEmbedding, sentence_mean


def test_passage_vectors_are_their_sentences_mean_read_in_blocks(tmp_path: Path, fixture_index: Path,
                                                                     use_embedder,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    chunks = list(load_index(fixture_index).chunks)
    monkeypatch.setattr(passage_vectors, "BLOCK", 2)
    assert len(chunks) > 4 and len(chunks) % 2  # read back in several blocks, the last one short
    cache = EmbeddingCache(tmp_path / "cache", use_embedder)
    vectors, rows, embedded = passage_vectors.from_sentences(chunks, use_embedder, cache)
    sentences = [t for c in chunks for t in c.sentence_texts()]
    assert embedded == len(set(sentences)) and len(rows) == len(sentences) and (rows >= 0).all()
    for row, chunk in enumerate(chunks):
        assert np.allclose(vectors[row], sentence_mean(use_embedder, chunk), atol=1e-5)
    again, same_rows, none = passage_vectors.from_sentences(chunks, use_embedder, cache)
    assert none == 0 and (same_rows == rows).all() and np.allclose(again, vectors)


def test_an_embedder_without_sentence_means_embeds_whole_passages(tmp_path: Path, articles_copy: Path,
                                                                   use_embedder) -> None:
    whole = CountingEmbedding(inner=use_embedder, model_name="whole-passages", dim=use_embedder.dim)
    assert not whole.passages_from_sentences
    report = build_index([articles_copy], tmp_path / "index", whole)
    index = load_index(tmp_path / "index")
    assert report.embedded == report.passages and index.sentences.complete
    assert np.allclose(index.vectors[0], use_embedder.embed_passages([index.chunks[0].text])[0], atol=1e-5)
    assert not np.allclose(index.vectors[0], sentence_mean(use_embedder, index.chunks[0]), atol=1e-3)
