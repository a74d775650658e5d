"""Dense vector indexes behind one small contract, one backend per module, chosen by corpus size.

Every backend stores L2-normalised float32 vectors in row order (row i = passage i) and offers::

    add(vectors)               append rows
    search(query, n)           -> (rows, scores), best first, inner product (= cosine)
    count()                    rows held
    exact                      True when search scores every row (no candidate may be missed)
    save(path) / load(path)    one file

``flat`` (exact, brute force) is right up to ``FLAT_MAX`` rows; above that ``ivf`` (inverted lists,
approximate; recall@10 1.0 against brute force at p50 2 ms on 1M x 512 clustered vectors, where brute
force took 366 ms: benchmarks/scale/ann.py). ``milvus`` (index/dense/milvus.py) is the scale-out store
behind the same contract.
"""

from pathlib import Path
from typing import Protocol

import numpy as np

# Brute force costs ~0.1 ms per 1,000 rows of 512-d here (10 ms at 100k): exact and cheap below this.
FLAT_MAX = 50_000


class DenseIndex(Protocol):
    exact: bool

    def add(self, vectors: np.ndarray) -> None: ...

    def search(self, query: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]: ...

    def count(self) -> int: ...

    def save(self, path: Path) -> None: ...


def kind_for(rows: int) -> str:
    """The backend a corpus of ``rows`` passages gets: exact while cheap, approximate beyond."""
    return "flat" if rows <= FLAT_MAX else "ivf"


def build(vectors: np.ndarray, kind: str | None = None) -> DenseIndex:
    """A dense index of ``kind`` (default: by size) holding ``vectors``."""
    kind = kind or kind_for(len(vectors))
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
