"""Approximate dense search on an index's real passage vectors: recall against brute force, and time.

Run:  .venv/bin/python benchmarks/scale/ann_real.py --index-dir DIR [--sizes 10000 25000 50000 0]
      [--ef 64 128 256 384 512] [--probes 8 16 24] [--questions 200]
For each size (the first N passages; 0 = all): brute force (numpy, one BLAS thread), the graph index
(index/dense/hnsw.py) at each --ef, and inverted lists (index/dense/ivf.py) at each --probes: recall@10 and
the recall of the top 100 (the candidates fusion draws on) against brute force, median search time, build
time. Questions derived from titles as in run.py. One thread per search, as one request gets.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import faiss
import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def timed_searches(search, queries: np.ndarray) -> tuple[float, list[np.ndarray]]:
    found, times = [], []
    for query in queries:
        started = time.perf_counter()
        found.append(np.asarray(search(query)))
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 2), found


def recall(found: list[np.ndarray], truth: list[np.ndarray], n: int) -> float:
    return round(float(np.mean([len(set(f[:n].tolist()) & set(t[:n].tolist())) / n
                                for f, t in zip(found, truth, strict=True)])), 4)


def row(size: int, method: str, setting: int | None, search, queries, truth, build_s: float) -> dict:
    ms, found = timed_searches(search, queries)
    return {"passages": size, "method": method, "setting": setting, "recall@10": recall(found, truth, 10),
            "recall@100": recall(found, truth, 100), "search_ms": ms, "build_s": build_s}


def bench_size(vectors: np.ndarray, queries: np.ndarray, efs: list[int], probes: list[int]) -> list[dict]:
    from index.dense import hnsw, top
    from index.dense.ivf import IVFIndex

    rows = np.arange(len(vectors))
    truth = [top(rows, vectors @ q, 100)[0] for q in queries]
    out = [row(len(vectors), "flat", None, lambda q: top(rows, vectors @ q, 100)[0], queries, truth, 0.0)]
    faiss.omp_set_num_threads(len(os.sched_getaffinity(0)))  # building may use every core; searching one
    started = time.perf_counter()
    graph = hnsw.build(vectors)
    graph_s = round(time.perf_counter() - started, 1)
    started = time.perf_counter()
    lists = IVFIndex.build(vectors)
    lists_s = round(time.perf_counter() - started, 1)
    faiss.omp_set_num_threads(1)
    for ef in efs:
        graph.hnsw.efSearch = ef
        out.append(row(len(vectors), "hnsw efSearch", ef, lambda q: hnsw.search(graph, q, 100)[0], queries, truth,
                       graph_s))
    for probe in probes:
        lists.raw.nprobe = probe
        out.append(row(len(vectors), f"ivf {lists.raw.nlist} lists, probes", probe,
                       lambda q: lists.search(q, 100)[0], queries, truth, lists_s))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 25_000, 50_000, 0])
    parser.add_argument("--ef", type=int, nargs="+", default=[64, 128, 256, 384, 512])
    parser.add_argument("--probes", type=int, nargs="+", default=[8, 16, 24])
    parser.add_argument("--questions", type=int, default=200)
    args = parser.parse_args()
    import corpus

    from index.embedding import load_embedder, one_blas_thread
    from index.store import load_index

    one_blas_thread()
    index = load_index(args.index_dir)
    step = max(1, len(index.chunks) // 5000)
    titles = [{"title": index.chunks[i].title} for i in range(0, len(index.chunks), step)]
    embedder = load_embedder("use")
    queries = np.vstack([embedder.embed_query(q) for q in corpus.questions_from_titles(titles, args.questions)])
    results = []
    for size in args.sizes:
        vectors = np.ascontiguousarray(index.vectors[:size or len(index.vectors)])
        for result in bench_size(vectors, queries, args.ef, args.probes):
            print(json.dumps(result), flush=True)
            results.append(result)
    print(json.dumps({"load": os.getloadavg(), "results": results}))


if __name__ == "__main__":
    main()
