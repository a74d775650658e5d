"""What an index above ``FLAT_MAX`` passages keeps instead of a flat index: a graph index and moments.

Questions then score only the passages the graph finds (hnsw.py) and z-score them with the moments
(moments.py). A new generation carries both over from the previous one (new rows are added to the graph;
the sums gain the new rows and lose the removed ones), so appending an article never re-reads every vector.
"""

import os
from pathlib import Path

import faiss
import numpy as np

from index.dense import FLAT_MAX, hnsw
from index.dense.moments import Moments
from index.errors import ConfigError

MOMENTS_FILE = "dense-moments.npz"


def flat_max() -> int:
    """Passages up to which search stays exact (``DALIL_FLAT_MAX`` overrides it, e.g. to test the graph)."""
    value = os.environ.get("DALIL_FLAT_MAX", str(FLAT_MAX))
    if not value.strip().isdigit():
        raise ConfigError(f"DALIL_FLAT_MAX is '{value}', not a number of passages.",
                          f"Set it to a whole number (default {FLAT_MAX}), or unset it.")
    return int(value)


def carried_over(vectors: np.ndarray, sources: np.ndarray, previous_raw: faiss.Index | None,
                 previous_vectors: np.ndarray | None,
                 moments: Moments | None) -> tuple[faiss.Index | None, Moments | None]:
    """The graph and moments of a generation of ``vectors`` whose row i was previous row ``sources[i]``
    (-1: new), from the previous generation's (None where there was none); (None, None) at or below
    ``flat_max()``: a flat index then."""
    if len(vectors) <= flat_max():
        return None, None
    if moments is None or previous_vectors is None:
        moments = Moments.of(vectors)
    else:
        removed = np.setdiff1d(np.arange(len(previous_vectors)), sources[sources >= 0])
        moments = moments.plus(vectors[sources < 0], previous_vectors[removed])
    raw = hnsw.build(vectors) if previous_raw is None else hnsw.extended(previous_raw, vectors, sources)
    return raw, moments


def appended_in_place(raw: faiss.IndexHNSWFlat, moments: Moments,
                      new_vectors: np.ndarray) -> tuple[faiss.IndexHNSWFlat, Moments]:
    """The graph and moments once ``new_vectors`` are added after every row: ``raw`` itself grows (no copy
    of its ~200 MB of vectors at 20,000 articles; only a build's own copy of the previous index may be
    passed, and its vectors array is stale afterwards)."""
    raw.add(np.ascontiguousarray(new_vectors, dtype=np.float32))
    raw.hnsw.efSearch = hnsw.EF_SEARCH
    return raw, moments.plus(new_vectors, new_vectors[:0])


def save(folder: Path, moments: Moments | None) -> None:
    if moments is not None:
        moments.save(folder / MOMENTS_FILE)


def load(folder: Path, rows: int) -> Moments | None:
    """The generation's moments, or None for an exact (flat) index."""
    if not (folder / MOMENTS_FILE).is_file():
        return None
    moments = Moments.load(folder / MOMENTS_FILE)
    if moments.count != rows:
        raise ValueError(f"the dense moments count {moments.count} rows for {rows} vectors")
    return moments
