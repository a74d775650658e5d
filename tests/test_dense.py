"""Dense backends behind one contract: exact flat, approximate IVF, Milvus Lite (real, in a temp file)."""

from pathlib import Path

import numpy as np
import pytest

from index import dense
from index.dense.ivf import IVFIndex
from index.records import Chunk


def unit_rows(rows: int, dim: int = 16, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((rows, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def chunks_for(count: int, prefix: str = "p") -> list[Chunk]:
    return [Chunk(id=f"{prefix}{i}", article_id="a", source="s.txt", title="t", text=f"passage {i}", start=0,
                  end=9, sentences=((0, 9),)) for i in range(count)]


def milvus_index(tmp_path: Path, vectors: np.ndarray):
    from index.dense.milvus import MilvusIndex

    index = MilvusIndex(str(tmp_path / "milvus.db"), "test_passages", vectors.shape[1], [])
    assert index.sync(chunks_for(len(vectors)), vectors) == len(vectors)
    return index


@pytest.mark.parametrize("kind", ["flat", "ivf", "milvus"])
def test_backend_finds_the_same_top_rows_as_brute_force(kind: str, tmp_path: Path) -> None:
    vectors = unit_rows(2000)
    index = milvus_index(tmp_path, vectors) if kind == "milvus" else dense.build(vectors, kind)
    assert index.count() == 2000
    query = vectors[7] + 0.1 * unit_rows(1, seed=1)[0]
    rows, scores = index.search(query, 10)
    truth = np.argsort(-(vectors @ query))[:10]
    overlap = len(set(rows.tolist()) & set(truth.tolist())) / 10
    assert rows[0] == 7 and overlap >= (1.0 if index.exact else 0.8)
    assert np.allclose(scores, vectors[rows] @ query, atol=1e-4) and all(np.diff(scores) <= 1e-6)


@pytest.mark.parametrize("kind", ["flat", "ivf"])
def test_faiss_backend_saves_and_loads(kind: str, tmp_path: Path) -> None:
    vectors = unit_rows(1000)
    index = dense.build(vectors, kind)
    index.save(tmp_path / "v.faiss")
    loaded = dense.load(tmp_path / "v.faiss")
    assert type(loaded) is type(index) and loaded.count() == 1000
    assert np.array_equal(loaded.search(vectors[3], 5)[0], index.search(vectors[3], 5)[0])


def test_size_picks_flat_or_graph(monkeypatch: pytest.MonkeyPatch) -> None:
    from index.dense import approximate

    vectors = unit_rows(300)
    sources = np.arange(300)
    monkeypatch.setenv("DALIL_FLAT_MAX", "300")
    assert approximate.carried_over(vectors, sources, None, None, None) == (None, None)
    monkeypatch.setenv("DALIL_FLAT_MAX", "299")
    graph, moments = approximate.carried_over(vectors, sources, None, None, None)
    assert graph.ntotal == 300 and moments.count == 300
    assert approximate.flat_max() == 299 and dense.FLAT_MAX > 10_000
    assert IVFIndex.lists_for(1_000_000) == 2048 and IVFIndex.lists_for(60_000) == 512


def test_milvus_sync_upserts_new_and_deletes_dropped_passages(tmp_path: Path) -> None:
    vectors = unit_rows(50)
    index = milvus_index(tmp_path, vectors)
    # The next generation drops p0..p9 and adds q0..q4: rows are the new generation's.
    chunks = chunks_for(50)[10:] + chunks_for(5, "q")
    fresh = np.vstack([vectors[10:], unit_rows(5, seed=9)])
    assert index.sync(chunks, fresh) == 5
    assert sorted(index._stored_ids()) == sorted(c.id for c in chunks)
    rows, _ = index.search(fresh[42], 3)
    assert rows[0] == 42 and chunks[rows[0]].id == "q2"
