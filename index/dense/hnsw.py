"""A graph index (FAISS IndexHNSWFlat) for large archives: the generation's vectors and a neighbour graph.

Chosen over inverted lists (ivf.py) on the real news vectors: USE's passage vectors spread evenly, so
lists must be scanned by the dozen (256 lists at 101k passages: 24 probes, 9% of the rows, gave recall@10
0.89), where the graph reaches recall@10 0.98 in ~2 ms (benchmarks/scale/ann_real.py). The graph keeps
the vectors themselves (its storage), so the index holds one copy of them, as the flat index does. New
rows are added to the graph; a generation that drops or reorders rows builds it again.

A generation saves the graph without its vectors (``save``: ~30 MB of links at 101k passages instead of
235 MB) and ``load`` puts them back from the generation's vector file (index/store.py), which generations
share and append to: an update that adds one article then rewrites the links, not every vector.
"""

from pathlib import Path

import faiss
import numpy as np

from index.appendable import only_appends

LINKS = 32  # neighbours per node (M)
# Candidates kept while building. 40 (FAISS's default) made a graph that tops out at recall@10 0.95 on a
# synthetic 1M x 512 set, whatever efSearch; 128 reaches 0.995 there at efSearch 512 (1.2 ms). On the 101k real
# news vectors both give 0.997, the graph taking 31 s to build instead of 13 (benchmarks/scale/ann.py,
# docs/scaling.md).
EF_CONSTRUCTION = 128
# Candidates kept while searching. 101k news passages, 200 title questions: recall@10 0.979 at 256, 0.983
# at 384, 0.988 at 512, 2.2 ms (benchmarks/scale/ann_real.py).
EF_SEARCH = 512


def build(vectors: np.ndarray) -> faiss.IndexHNSWFlat:
    raw = faiss.IndexHNSWFlat(vectors.shape[1], LINKS, faiss.METRIC_INNER_PRODUCT)
    raw.hnsw.efConstruction = EF_CONSTRUCTION
    raw.add(np.ascontiguousarray(vectors, dtype=np.float32))
    raw.hnsw.efSearch = EF_SEARCH
    return raw


def extended(previous: faiss.Index, vectors: np.ndarray, sources: np.ndarray) -> faiss.IndexHNSWFlat:
    """The graph for a generation of ``vectors`` whose row i was previous row ``sources[i]`` (-1: new):
    the previous graph with the new rows added when every previous row stays in place, else a new one."""
    kept = int(previous.ntotal)
    if not (isinstance(previous, faiss.IndexHNSWFlat) and only_appends(sources, kept)):
        return build(vectors)
    raw = faiss.clone_index(previous)  # the previous index's vectors stay readable while this one grows
    raw.add(np.ascontiguousarray(vectors[kept:], dtype=np.float32))
    raw.hnsw.efSearch = EF_SEARCH
    return raw


def save(raw: faiss.IndexHNSWFlat, path: Path) -> None:
    """The graph alone, without the vectors it holds (they are stored beside it)."""
    faiss.write_index(raw, str(path), faiss.IO_FLAG_SKIP_STORAGE)


def load(path: Path, vectors: np.ndarray, spare_rows: int = 0) -> faiss.IndexHNSWFlat:
    """The graph saved at ``path`` with ``vectors`` (its rows, in order) as its storage again, with room for
    ``spare_rows`` more: growing the storage past its size copies every vector (~0.15 s at 101k passages)."""
    raw = faiss.read_index(str(path), faiss.IO_FLAG_SKIP_STORAGE)
    if raw.ntotal != len(vectors):
        raise ValueError(f"the graph has {raw.ntotal} nodes for {len(vectors)} vectors")
    storage = faiss.IndexFlat(raw.d, raw.metric_type)
    if spare_rows:  # a std::vector keeps its capacity when it shrinks
        storage.codes.resize((len(vectors) + spare_rows) * storage.code_size)
        storage.codes.resize(0)
    storage.add(np.ascontiguousarray(vectors, dtype=np.float32))
    storage.this.disown()  # the graph owns and frees it from now on
    raw.storage, raw.own_fields = storage, True
    raw.hnsw.efSearch = EF_SEARCH
    # A graph read back restarts FAISS's level generator at its fixed seed, so every append drew the same
    # first levels (all 0): new passages never reached the upper layers. Seeded by the node count instead.
    raw.hnsw.rng = faiss.RandomGenerator(raw.ntotal)
    return raw


def stored_vectors(raw: faiss.Index) -> np.ndarray:
    """The rows a flat or graph index holds, as a view of FAISS's own memory (no copy)."""
    flat = faiss.downcast_index(raw.storage) if isinstance(raw, faiss.IndexHNSWFlat) else raw
    return faiss.rev_swig_ptr(flat.get_xb(), flat.ntotal * flat.d).reshape(flat.ntotal, flat.d)


def search(raw: faiss.IndexHNSWFlat, query: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``n`` nearest rows the graph finds, best first, with their (exact) cosines."""
    scores, rows = raw.search(query.reshape(1, -1).astype(np.float32), min(n, raw.ntotal))
    keep = rows[0] >= 0
    return rows[0][keep], scores[0][keep]
