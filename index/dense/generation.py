"""The dense side of a new generation: its vectors and, above FLAT_MAX passages, its graph and moments,
carried over from the previous generation where they can be (an append grows the graph in place)."""

import faiss
import numpy as np

from index.appendable import only_appends
from index.dense import approximate, hnsw
from index.dense.moments import Moments


def appends(previous, sources: np.ndarray) -> bool:
    """Whether the new generation keeps every row of ``previous`` (a PassageIndex, or None) in place and only
    adds rows after them (one new article): it then shares the previous generation's big files and appends
    to them (index/store.py)."""
    return previous is not None and only_appends(sources, len(previous.chunks))


def graph_from_nothing(previous, sources: np.ndarray, appended: bool) -> bool:
    """This generation needs a graph that cannot grow from the previous one's (a first build above
    FLAT_MAX passages, or a change other than an append). It then answers with exact search first: building
    the graph took 10-90 s at 20,000 articles, after ~4 minutes of embedding."""
    return len(sources) > approximate.flat_max() and not (appended and previous.approximate)


def assembled(previous, sources: np.ndarray, new_vectors: np.ndarray, appended: bool,
              graph: bool = True) -> tuple[np.ndarray, faiss.Index | None, Moments | None]:
    """The new generation's vectors, and above FLAT_MAX passages its graph and moments (unless not
    ``graph``: ``with_graph`` adds them later). An append to a graph grows the previous one in place:
    assembling every vector and copying the graph took ~0.5 s of adding one article at 20,000 articles."""
    if appended and previous.approximate:
        raw, moments = approximate.appended_in_place(previous.faiss_index, previous.moments, new_vectors)
        previous.vectors = hnsw.stored_vectors(raw)  # the graph's storage moved: the old view is stale
        return previous.vectors, raw, moments
    vectors = np.zeros((len(sources), new_vectors.shape[1]), dtype=np.float32)
    if previous is not None:
        vectors[sources >= 0] = previous.vectors[sources[sources >= 0]]
    vectors[sources < 0] = new_vectors
    if not graph:
        return vectors, None, None
    before = (previous.faiss_index, previous.vectors, previous.moments) if previous else (None,) * 3
    raw, moments = approximate.carried_over(vectors, sources, *before)
    return (vectors if raw is None else hnsw.stored_vectors(raw)), raw, moments


def with_graph(vectors: np.ndarray) -> tuple[np.ndarray, faiss.Index, Moments]:
    """A graph built from nothing over ``vectors``, the vectors as the graph now holds them, and their
    moments (for a generation first published with exact search)."""
    raw, moments = approximate.carried_over(vectors, np.arange(len(vectors)), None, None, None)
    return hnsw.stored_vectors(raw), raw, moments
