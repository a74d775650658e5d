"""The graph index and moments above FLAT_MAX passages: what they find, how updates carry them over, and
that candidate fusion ranks as the all-passage fusion does."""

import json
from pathlib import Path

import faiss
import numpy as np
import pytest

from assistant.qa import Assistant
from index.build import build_index
from index.dense import hnsw, top
from index.dense.approximate import MOMENTS_FILE
from index.dense.moments import Moments
from index.store import current_generation, load_index
from tests.conftest import DATA
from tests.test_deep import deep_counting  # noqa: F401  (a fixture)


def clustered(rows: int, dim: int = 16, clusters: int = 20, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim))
    vectors = centres[rng.integers(0, clusters, rows)] + 0.3 * rng.standard_normal((rows, dim))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def test_graph_finds_what_brute_force_finds_and_grows_in_place() -> None:
    vectors = clustered(3000)
    graph = hnsw.build(vectors[:2990])
    grown = hnsw.extended(graph, vectors, np.concatenate([np.arange(2990), np.full(10, -1)]))
    assert graph.ntotal == 2990 and grown.ntotal == 3000 and np.array_equal(hnsw.stored_vectors(grown), vectors)
    recalls = []
    for query in clustered(50, seed=1):
        rows, scores = hnsw.search(grown, query, 10)
        truth, _ = top(np.arange(len(vectors)), vectors @ query, 10)
        recalls.append(len(set(rows.tolist()) & set(truth.tolist())) / 10)
        assert np.allclose(scores, vectors[rows] @ query, atol=1e-5)  # exact cosines
    assert np.mean(recalls) >= 0.95
    # A generation that drops a row cannot reuse the graph: a new one is built.
    rebuilt = hnsw.extended(grown, vectors[1:], np.arange(1, 3000))
    assert rebuilt.ntotal == 2999 and np.array_equal(hnsw.stored_vectors(rebuilt), vectors[1:])


def test_moments_give_the_mean_and_spread_of_every_cosine() -> None:
    vectors, query = clustered(400), clustered(1, seed=3)[0]
    moments = Moments.of(vectors).plus(clustered(5, seed=4), vectors[:50])
    kept = np.vstack([vectors[50:], clustered(5, seed=4)]) @ query
    assert np.allclose(moments.mean_and_spread(query), (kept.mean(), kept.std()), atol=1e-6)


def test_top_breaks_ties_like_a_stable_sort() -> None:
    scores = np.array([0.5, 0.9, 0.5, 0.5, 0.1], dtype=np.float32)
    rows, _ = top(np.arange(5), scores, 3)
    assert rows.tolist() == np.argsort(-scores, kind="stable")[:3].tolist() == [1, 0, 2]


def questions() -> list[str]:
    return [json.loads(line)["question"] for line in (DATA / "questions.jsonl").read_text().splitlines() if line]


def hits(assistant: Assistant, question: str) -> list[tuple[str, float]]:
    return [(hit.chunk.id, round(hit.score, 3)) for hit in assistant.answer(question).hits]


@pytest.mark.parametrize("deep", [False, True])
def test_an_index_with_a_graph_ranks_as_the_exact_one(tmp_path: Path, articles_copy: Path, use_embedder,
                                                    deep_counting, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
                                                    deep: bool) -> None:
    """The graph search over a corpus this small visits every passage, so the candidates hold every near
    one and the moments give the exact statistics: the fused ranking must be the all-passage one."""
    index_dir = tmp_path / "index"
    layers = {"deep_embedder": deep_counting} if deep else {}
    build_index([articles_copy], index_dir, use_embedder, **layers)
    exact = Assistant(load_index(index_dir), use_embedder, deep_embedder=deep_counting if deep else None)
    monkeypatch.setenv("DALIL_FLAT_MAX", "0")
    build_index([articles_copy], index_dir, use_embedder, rebuild=True, **layers)
    graphed = Assistant(load_index(index_dir), use_embedder, deep_embedder=deep_counting if deep else None)
    assert graphed.index.approximate and not exact.index.approximate
    for question in questions():
        assert hits(graphed, question) == hits(exact, question), question

    (articles_copy / "extra.txt").write_text("A new bridge opened in the north of the city on Monday.\n",
                                             encoding="utf-8")
    build_index([articles_copy], index_dir, use_embedder, **layers)
    updated = load_index(index_dir)
    assert updated.approximate and updated.faiss_index.ntotal == len(updated.vectors) == updated.moments.count
    assert np.allclose(updated.moments.total, Moments.of(updated.vectors).total, atol=1e-4)
    assert (current_generation(index_dir) / MOMENTS_FILE).is_file()


def test_a_graph_built_from_nothing_comes_after_exact_search_is_published(
        tmp_path: Path, articles_copy: Path, use_embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    """Above FLAT_MAX a first build publishes exact search, then the graph (which took 10-90 s at 20,000
    articles): answers start that much sooner. Stopped in between, the next build adds the graph; an
    append grows the graph without that step."""
    from index import build as build_module

    monkeypatch.setenv("DALIL_FLAT_MAX", "3")
    published: list[bool] = []
    publish = build_module._publish
    monkeypatch.setattr(build_module, "_publish",
                        lambda folder, index: published.append(index.approximate) or publish(folder, index))
    index_dir = tmp_path / "index"
    build_index([articles_copy], index_dir, use_embedder)
    assert published[:2] == [False, True] and load_index(index_dir).approximate

    # Stopped after the exact generation: it answers, and the next build (nothing changed) adds the graph.
    def stopped(folder: Path, index) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as stop:
        stop.setattr(build_module, "_publish_graph", stopped)
        with pytest.raises(KeyboardInterrupt):
            build_index([articles_copy], index_dir, use_embedder, rebuild=True)
    assert not load_index(index_dir).approximate
    report = build_index([articles_copy], index_dir, use_embedder)
    assert report.written and load_index(index_dir).approximate and report.passages > 3

    published.clear()
    (articles_copy / "zz_extra.txt").write_text("A new bridge opened in the north of the city on Monday.\n",
                                                encoding="utf-8")
    build_index([articles_copy], index_dir, use_embedder)  # an append (the file sorts last)
    assert published and all(published)


def test_appended_passages_reach_the_graphs_upper_layers(tmp_path: Path) -> None:
    """Each add loads the graph, grows it and saves it: new nodes must get random levels like a fresh
    build's, not the same first draws of a restarted generator (all level 0)."""
    vectors = np.random.default_rng(3).standard_normal((400, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    path = tmp_path / "graph.faiss"
    hnsw.save(hnsw.build(vectors[:200]), path)
    for start in range(200, 400, 5):  # 40 adds of 5 passages
        raw = hnsw.load(path, vectors[:start])
        raw.add(vectors[start:start + 5])
        hnsw.save(raw, path)
    levels = faiss.vector_to_array(hnsw.load(path, vectors).hnsw.levels)
    assert (levels[200:] > 1).any()  # FAISS stores level + 1
