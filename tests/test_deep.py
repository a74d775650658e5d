"""The deep layer: filled after the fast one, published in steps, reused when unchanged, resumed after Ctrl-C."""

from pathlib import Path

import numpy as np
import pytest

from assistant.qa import Assistant
from assistant.settings import Settings
from index import build
from index.build import build_index
from index.store import load_index, read_manifest
from tests.test_build import CountingEmbedding


@pytest.fixture()
def deep_counting(use_embedder) -> CountingEmbedding:
    """A second encoder for the deep layer: the real USE model under another id, counting its work."""
    return CountingEmbedding(inner=use_embedder, model_name="deep-test", dim=use_embedder.dim)


def sentence_count(index) -> int:
    return sum(len(c.sentences) for c in index.chunks)


def test_deep_layer_is_filled_and_reused(tmp_path: Path, articles_copy: Path, use_embedder, deep_counting) -> None:
    index_dir = tmp_path / "index"
    report = build_index([articles_copy], index_dir, use_embedder, deep_embedder=deep_counting)
    index = load_index(index_dir)
    assert index.deep is not None and index.deep.complete and report.deep_embedded == report.passages
    # Every passage and sentence, each distinct text once (a one-sentence passage is embedded once, through
    # the embedding cache).
    texts = {c.text for c in index.chunks} | {t for c in index.chunks for t in c.sentence_texts()}
    assert deep_counting.embedded == len(texts) < report.passages + sentence_count(index) + 1
    assert read_manifest(index_dir)["deep"] == {"id": "deep-test", "dim": use_embedder.dim,
                                                "done": report.passages, "passages": report.passages,
                                                "cache": read_manifest(index_dir)["sentences"]["cache"]}
    # Row i of the deep sentences is the i-th sentence in passage order, embedded by the deep encoder.
    first = index.chunks[0]
    expected = use_embedder.embed_passages(first.sentence_texts())
    assert np.allclose(index.deep.sentences[index.deep.rows_for(0)], expected, atol=1e-5)
    span = index.sentences.rows_for(0)
    fast, found = index.sentences.matrix(use_embedder.dim, list(range(span.start, span.stop)))
    assert found.all() and np.allclose(fast, expected, atol=1e-5)  # the fast encoder's, from the cache

    before = deep_counting.embedded
    again = build_index([articles_copy], index_dir, use_embedder, deep_embedder=deep_counting)
    assert not again.written and deep_counting.embedded == before

    (articles_copy / "extra.txt").write_text("A new bridge opened in the north of the city on Monday.\n",
                                             encoding="utf-8")
    update = build_index([articles_copy], index_dir, use_embedder, deep_embedder=deep_counting)
    assert update.added == ["extra.txt"] and update.deep_embedded == 1  # only the new passage
    assert load_index(index_dir).deep.complete


def test_interrupted_fill_keeps_published_rows_and_resumes(tmp_path: Path, articles_copy: Path, use_embedder,
                                                           deep_counting, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build, "DEEP_PUBLISH_SECONDS", 0.0)  # publish after every batch
    monkeypatch.setattr(build, "DEEP_BATCH", 1)
    index_dir = tmp_path / "index"
    deep_counting.fail_after = 12  # Ctrl-C after a few passages with their sentences
    with pytest.raises(KeyboardInterrupt):
        build_index([articles_copy], index_dir, use_embedder, deep_embedder=deep_counting)
    partial = load_index(index_dir)  # the fast layer and the deep rows published before Ctrl-C
    done = int(partial.deep.done.sum())
    assert 0 < done < len(partial.chunks)
    assert read_manifest(index_dir)["deep"]["done"] == done

    # Answers work on a partly filled layer: passages not reached yet use the fast encoder's score.
    assistant = Assistant(partial, use_embedder, Settings(index_dir=index_dir), deep_counting)
    answer = assistant.answer("When did the library fire start?")
    assert answer.citations

    deep_counting.fail_after = None
    resumed = build_index([articles_copy], index_dir, use_embedder, deep_embedder=deep_counting)
    assert resumed.deep_embedded == len(partial.chunks) - done and load_index(index_dir).deep.complete


def test_no_deep_model_drops_the_layer(tmp_path: Path, articles_copy: Path, use_embedder, deep_counting) -> None:
    index_dir = tmp_path / "index"
    build_index([articles_copy], index_dir, use_embedder, deep_embedder=deep_counting)
    report = build_index([articles_copy], index_dir, use_embedder)
    assert report.written and report.embedded == 0  # the fast layer is reused whole
    assert load_index(index_dir).deep is None and "deep" not in read_manifest(index_dir)


def test_deep_layer_changes_the_ranking_it_leads(tmp_path: Path, articles_copy: Path, use_embedder,
                                                deep_counting) -> None:
    """With a deep layer the deep cosine leads the fused score, so hits and sentence scores use it."""
    index_dir = tmp_path / "index"
    build_index([articles_copy], index_dir, use_embedder, deep_embedder=deep_counting)
    index = load_index(index_dir)
    assistant = Assistant(index, use_embedder, Settings(index_dir=index_dir), deep_counting)
    question = "How many olive trees were counted?"
    vector = use_embedder.embed_query(question)
    plain = assistant.retriever.search(question, k=5, query_vector=vector)
    deep = assistant.retriever.search(question, k=5, query_vector=vector, deep_vector=vector)
    assert [h.score for h in plain] != [h.score for h in deep]
    fast = CountingEmbedding(inner=use_embedder, model_name=use_embedder.model_name, dim=use_embedder.dim)
    assistant.embedder = fast
    _, ranked, chosen = assistant.select(question, 5, vector, deep_vector=vector)
    assert chosen and all(c.deep_scored for c in ranked)
    assert assistant.similarity_model(chosen) == "deep-test"
    assert fast.embedded == 0  # the pool's fast sentence vectors come from the sentence layer
    plain_ranked = assistant.select(question, 5, vector)[1]  # no deep vector: the fast cosine alone
    assert fast.embedded == 0 and plain_ranked and not any(c.deep_scored for c in plain_ranked)


def test_question_is_embedded_by_both_encoders_at_once(tmp_path: Path, articles_copy: Path, use_embedder,
                                                       deep_counting) -> None:
    """Assistant.embed runs the deep encoder in a worker thread beside the fast one: the same vectors as one
    after the other, and the deep encoder really ran off the calling thread."""
    import threading

    index_dir = tmp_path / "index"
    build_index([articles_copy], index_dir, use_embedder, deep_embedder=deep_counting)
    threads: list[str] = []

    class Recording(CountingEmbedding):
        def embed_query(self, text: str) -> np.ndarray:
            threads.append(threading.current_thread().name)
            return super().embed_query(text)

    deep = Recording(inner=use_embedder, model_name="deep-test", dim=use_embedder.dim)
    assistant = Assistant(load_index(index_dir), use_embedder, Settings(index_dir=index_dir), deep)
    question = "Who opened the new library?"
    fast, deep_vector = assistant.embed(question)
    assert np.allclose(fast, use_embedder.embed_query(question), atol=1e-6)
    assert np.allclose(deep_vector, use_embedder.embed_query(question), atol=1e-6)
    assert len(threads) == 1 and threads[0].startswith("dalil-deep-query")


@pytest.mark.parametrize("flat_max", ["100000", "0"])  # every passage scored; candidates from the graph
def test_fast_search_runs_while_the_deep_encoder_embeds(tmp_path: Path, articles_copy: Path, use_embedder,
                                                       deep_counting, monkeypatch, flat_max: str) -> None:
    """Assistant.answer starts the deep encoder first and waits for it only after the fast dense search; the
    answer is the one the finished deep vector gives."""
    import threading

    monkeypatch.setenv("DALIL_FLAT_MAX", flat_max)
    index_dir = tmp_path / "index"
    build_index([articles_copy], index_dir, use_embedder, deep_embedder=deep_counting)
    index = load_index(index_dir)
    assert index.approximate == (flat_max == "0")
    searched = threading.Event()
    dense_search = "dense_search" if index.approximate else "dense_scores"
    fast_search = getattr(index, dense_search)

    def searching(*args):
        searched.set()
        return fast_search(*args)

    class WaitsForTheSearch(CountingEmbedding):
        def embed_query(self, text: str) -> np.ndarray:
            assert searched.wait(20), "the search did not start while the deep encoder embedded"
            return super().embed_query(text)

    monkeypatch.setattr(index, dense_search, searching)
    deep = WaitsForTheSearch(inner=use_embedder, model_name="deep-test", dim=use_embedder.dim)
    assistant = Assistant(index, use_embedder, Settings(index_dir=index_dir), deep)
    question = "How many olive trees were counted?"
    answer = assistant.answer(question)
    assert searched.is_set()
    vector, deep_vector = assistant.embed(question)  # both finished first
    hits, _, chosen = assistant.select(question, 5, vector, deep_vector=deep_vector)
    assert [h.row for h in answer.hits] == [h.row for h in hits[:len(answer.hits)]]
    assert chosen and chosen[0].deep_scored
