"""Dense vector indexes behind one small contract, one backend per module, chosen by corpus size.

Every backend stores L2-normalised float32 vectors in row order (row i = passage i) and offers::

    add(vectors)               append rows
    search(query, n)           -> (rows, scores), best first, inner product (= cosine)
    count()                    rows held
    exact                      True when search scores every row (no candidate may be missed)
    save(path) / load(path)    one file

An index generation keeps a ``flat`` index (exact, brute force) up to ``FLAT_MAX`` passages and a graph
(``hnsw``, approximate) above it, with moments for fusion (approximate.py). On the real news vectors the
graph found 98.8% of the exact top 10 in 2-3 ms at 101k passages where brute force took 17-45 ms
(benchmarks/scale/ann_real.py); ``ivf`` (inverted lists) reached only 85-89% there at a similar cost, though
it had recall 1.0 on clustered synthetic vectors at 1M (benchmarks/scale/ann.py). ``milvus``
(index/dense/milvus.py) is the scale-out store behind the same contract.
"""

from pathlib import Path
from typing import Protocol

import numpy as np

# Exact while brute force costs about what the graph does. One thread, real news vectors (load ~5):
# brute force 1.0 ms at 10k rows (40 MB of vectors: still in cache), 11.7 ms at 25k, 24 ms at 50k; the graph
# 1.3-2 ms at efSearch 512 (benchmarks/scale/ann_real.py). 20k passages are ~4,000 news articles.
FLAT_MAX = 20_000


class DenseIndex(Protocol):
    exact: bool

    def add(self, vectors: np.ndarray) -> None: ...

    def search(self, query: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]: ...

    def count(self) -> int: ...

    def save(self, path: Path) -> None: ...


def build(vectors: np.ndarray, kind: str) -> DenseIndex:
    """A dense index of ``kind`` ('flat' or 'ivf') holding ``vectors``."""
    if kind == "flat":
        from index.dense.flat import FlatIndex

        return FlatIndex.build(vectors)
    if kind == "ivf":
        from index.dense.ivf import IVFIndex

        return IVFIndex.build(vectors)
    raise ValueError(f"unknown dense index kind {kind!r}")


def load(path: Path) -> DenseIndex:
    """The index saved at ``path``, whichever backend wrote it (FAISS records its own type)."""
    import faiss

    raw = faiss.read_index(str(path))
    if isinstance(raw, faiss.IndexIVF):
        from index.dense.ivf import IVFIndex

        return IVFIndex(raw)
    from index.dense.flat import FlatIndex

    return FlatIndex(raw)


def top(rows: np.ndarray, scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``n`` highest ``scores`` and their ``rows``, best first (ties: lower row first, as a stable sort),
    without sorting every score."""
    if n < len(scores):
        cut = scores[np.argpartition(-scores, n - 1)[:n]].min()
        keep = np.flatnonzero(scores >= cut)  # every tie at the cut, so ties go to the lower row
        rows, scores = rows[keep], scores[keep]
    order = np.lexsort((rows, -scores))[:n]
    return rows[order], scores[order]
