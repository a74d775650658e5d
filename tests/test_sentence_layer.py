"""The fast encoder's sentence vectors: filled after the fast layer, carried over by updates, and used by
the answer step instead of embedding at question time."""

from pathlib import Path

import numpy as np

from assistant.qa import Assistant
from index.build import build_index
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
    assert layer.complete and read_manifest(index_dir)["sentences"] == {"done": report.passages,
                                                                        "passages": report.passages}
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
