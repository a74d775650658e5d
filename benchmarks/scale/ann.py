"""Approximate dense search at 1M x 512: recall@10 against exact search and single-query latency, for inverted
lists (index/dense/ivf.py) and for the graph Dalil uses above FLAT_MAX passages (index/dense/hnsw.py, its
production settings: 32 links, efConstruction 128, efSearch 512 and lower for comparison).

Run:  .venv/bin/python benchmarks/scale/ann.py [--rows 1000000] [--queries 200] [--methods ivf hnsw]
      [--out benchmarks/results/scale]
The vectors are synthetic (no corpus that size here): L2-normalised points around 2,000 sub-topic centres
(~0.6 cosine from their centre), which themselves lie around 100 topics, so neighbouring clusters overlap
as passages on related stories do; queries are fresh draws from the same mixture. --spread sets the
noise (1.3 gives ~0.6 cosine to the centre; larger is harder). Exact top-10 comes from chunked brute
force. One search thread, as one request gets.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import faiss
import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from index.dense import hnsw  # noqa: E402
from index.dense.ivf import IVFIndex  # noqa: E402

DIM, CENTRES = 512, 2000


def unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def noise(rng: np.random.Generator, rows: int, length: float) -> np.ndarray:
    return rng.standard_normal((rows, DIM), dtype=np.float32) * np.float32(length / np.sqrt(DIM))


def centres(rng: np.random.Generator) -> np.ndarray:
    """Sub-topic centres: 100 topics, each with sub-topics ~0.7 cosine from it."""
    topics = unit(rng.standard_normal((100, DIM), dtype=np.float32))
    return unit(topics[rng.integers(0, 100, CENTRES)] + noise(rng, CENTRES, 1.0))


def mixture(rows: int, middles: np.ndarray, rng: np.random.Generator, spread: float) -> np.ndarray:
    """``rows`` unit vectors, each a sub-topic centre plus noise ``spread`` times its length."""
    out = np.empty((rows, DIM), dtype=np.float32)
    for start in range(0, rows, 100_000):
        n = min(100_000, rows - start)
        out[start:start + n] = unit(middles[rng.integers(0, len(middles), n)] + noise(rng, n, spread))
    return out


def exact_top(data: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """True top-k rows per query by brute force, a block of rows at a time (no second copy of the data)."""
    best_rows = np.zeros((len(queries), 0), dtype=np.int64)
    best_scores = np.zeros((len(queries), 0), dtype=np.float32)
    for start in range(0, len(data), 100_000):
        scores = queries @ data[start:start + 100_000].T
        rows = np.arange(start, start + scores.shape[1])[None, :].repeat(len(queries), 0)
        best_scores = np.hstack([best_scores, scores])
        best_rows = np.hstack([best_rows, rows])
        keep = np.argsort(-best_scores, axis=1)[:, :k]
        best_scores = np.take_along_axis(best_scores, keep, 1)
        best_rows = np.take_along_axis(best_rows, keep, 1)
    return best_rows


def timed(search, queries: np.ndarray) -> tuple[list, dict]:
    results, times = [], []
    for query in queries:
        started = time.perf_counter()
        results.append(search(query))
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return results, {"p50_ms": round(times[len(times) // 2], 2), "p95_ms": round(times[int(0.95 * len(times))], 2)}


def recall(found: list[np.ndarray], truth: np.ndarray, k: int) -> float:
    return float(np.mean([len(set(f[:k]) & set(t[:k])) / k for f, t in zip(found, truth, strict=True)]))


def built(make, data: np.ndarray) -> tuple[object, float]:
    """``make(data)`` on every core (a build), then one search thread again (one request)."""
    faiss.omp_set_num_threads(len(os.sched_getaffinity(0)))
    started = time.perf_counter()
    index = make(data)
    seconds = time.perf_counter() - started
    faiss.omp_set_num_threads(1)
    return index, round(seconds, 1)


def measure_ivf(data: np.ndarray, queries: np.ndarray, truth: np.ndarray, all_probes: list[int]) -> dict:
    ivf, seconds = built(IVFIndex.build, data)
    out = {"lists": ivf.raw.nlist, "build_s": seconds, "probes": {}}
    for probes in all_probes:
        ivf.raw.nprobe = probes
        found, latency = timed(lambda q: ivf.search(q, 10)[0], queries)
        out["probes"][probes] = dict(latency, recall_at_10=round(recall(found, truth, 10), 4))
        print("ivf probes", probes, out["probes"][probes], flush=True)
    return out


def measure_hnsw(data: np.ndarray, queries: np.ndarray, truth: np.ndarray, all_ef: list[int]) -> dict:
    graph, seconds = built(hnsw.build, data)
    out = {"links": hnsw.LINKS, "ef_construction": hnsw.EF_CONSTRUCTION, "build_s": seconds, "ef_search": {}}
    print("hnsw built in", seconds, "s", flush=True)
    for ef in all_ef:
        graph.hnsw.efSearch = ef
        found, latency = timed(lambda q: graph.search(q[None, :], 10)[1][0], queries)
        out["ef_search"][ef] = dict(latency, recall_at_10=round(recall(found, truth, 10), 4))
        print("hnsw efSearch", ef, out["ef_search"][ef], flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--spread", type=float, default=1.3, help="Noise around each centre (harder if larger).")
    parser.add_argument("--probes", type=int, nargs="+", default=[8, 16, 32, 64])
    parser.add_argument("--ef", type=int, nargs="+", default=[128, 256, hnsw.EF_SEARCH])
    parser.add_argument("--methods", nargs="+", choices=["ivf", "hnsw"], default=["ivf", "hnsw"])
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "scale")
    args = parser.parse_args()
    rng = np.random.default_rng(6)
    middles = centres(rng)
    data, queries = mixture(args.rows, middles, rng, args.spread), mixture(args.queries, middles, rng, args.spread)
    truth = exact_top(data, queries, 10)
    faiss.omp_set_num_threads(1)  # one request, one thread: the latency a query sees
    _, flat = timed(lambda q: np.argpartition(-(data @ q), 10)[:10], queries)
    result = {"rows": args.rows, "dim": DIM, "spread": args.spread, "queries": args.queries, "load": os.getloadavg(),
              "brute_force": flat}
    if "ivf" in args.methods:
        result["ivf"] = measure_ivf(data, queries, truth, args.probes)
    if "hnsw" in args.methods:
        result["hnsw"] = measure_hnsw(data, queries, truth, args.ef)
    result["load_after"] = os.getloadavg()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"ann-{args.rows}-{args.spread}.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
