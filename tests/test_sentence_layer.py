"""The fast encoder's sentence vectors: filled after the fast layer, carried over by updates, and used by
the answer step instead of embedding at question time."""

import shutil
from pathlib import Path

import numpy as np

from assistant.qa import Assistant
from index.build import build_index
from index.embed_cache import CACHE_DIR, embed_with_cache, read_cache_id
from index.store import load_index, read_manifest
from tests.test_build import CountingEmbedding, counting  # noqa: F401  (a fixture)


def stored(layer, passage: int) -> np.ndarray:
    """The stored vectors of a passage's sentences (all of them must be there)."""
    span = layer.rows_for(passage)
    vectors, found = layer.matrix(layer.cache.dim, list(range(span.start, span.stop)))
    assert found.all()
    return vectors


def test_sentence_vectors_are_filled_carried_over_and_used(tmp_path: Path, articles_copy: Path,
                                                           counting) -> None:  # noqa: F811
    index_dir = tmp_path / "index"
    report = build_index([articles_copy], index_dir, counting)
    index = load_index(index_dir)
    layer = index.sentences
    recorded = read_manifest(index_dir)["sentences"]
    assert layer.complete and recorded == {"done": report.passages, "passages": report.passages,
                                           "cache": read_cache_id(index_dir / CACHE_DIR)}
    for row in (0, len(index.chunks) - 1):
        expected = counting.inner.embed_passages(index.chunks[row].sentence_texts())
        assert np.allclose(stored(layer, row), expected, atol=1e-5)

    # A warm answer embeds the question only: the pool's sentences are stored.
    assistant = Assistant(index, counting)
    before = counting.embedded
    assert assistant.answer("What caused the fire in the Karam library?").citations
    assert counting.embedded == before

    (articles_copy / "extra.txt").write_text("A new bridge opened in the north of the city on Monday. "
                                             "It cost twelve million.\n", encoding="utf-8")
    before = counting.embedded
    build_index([articles_copy], index_dir, counting)
    updated = load_index(index_dir)
    assert updated.sentences.complete and counting.embedded - before <= 3  # the new passage and its sentences
    rows = {chunk.id: row for row, chunk in enumerate(updated.chunks)}
    for old_row, chunk in enumerate(index.chunks):  # unchanged passages keep their cache rows
        new_layer = updated.sentences
        assert np.array_equal(new_layer.rows[new_layer.rows_for(rows[chunk.id])], layer.rows[layer.rows_for(old_row)])


def test_answers_embed_sentences_of_passages_not_filled_yet(tmp_path: Path, articles_copy: Path, counting,  # noqa: F811
                                                            use_embedder) -> None:
    index_dir = tmp_path / "index"
    build_index([articles_copy], index_dir, counting)
    index = load_index(index_dir)
    filled = Assistant(index, use_embedder).answer("What caused the fire in the Karam library?")
    index.sentences.rows[:] = -1  # as just after the fast layer is published
    fresh = CountingEmbedding(inner=use_embedder, model_name=use_embedder.model_name, dim=use_embedder.dim)
    unfilled = Assistant(index, fresh).answer("What caused the fire in the Karam library?")
    assert fresh.embedded > 0 and unfilled.answer == filled.answer


def test_a_rebuild_interrupted_after_deleting_the_cache_leaves_the_old_answers(tmp_path: Path, articles_copy: Path,
                                                                               use_embedder) -> None:
    """`--rebuild` deletes the cache, then fills a new one; if it stops there, the old generation is still
    current and its sentence rows point into a cache that is gone: they must read as missing (embedded again
    at question time), never as the new cache's vectors at those rows."""
    index_dir = tmp_path / "index"
    build_index([articles_copy], index_dir, use_embedder)
    question = "متى ستبدأ أشغال توسعة الميناء؟"
    before = Assistant(load_index(index_dir), use_embedder).answer(question).to_json()
    shutil.rmtree(index_dir / CACHE_DIR)  # what a rebuild does first
    other = [f"جملة أخرى رقم {i} عن الطقس والرياضة في مدينة بعيدة" for i in range(300)]
    embed_with_cache(other, use_embedder, index_dir / CACHE_DIR)  # its first batches, then it is killed
    index = load_index(index_dir)
    assert not index.sentences.matrix(use_embedder.dim)[1].any()  # no row read from the new cache
    after = Assistant(index, use_embedder).answer(question).to_json()
    assert {k: v for k, v in after.items() if k != "timings_ms"} == {k: v for k, v in before.items()
                                                                     if k != "timings_ms"}

