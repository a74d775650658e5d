"""Exact inner-product search over every row (FAISS IndexFlatIP): the default for small corpora."""

from pathlib import Path

import faiss
import numpy as np


class FlatIndex:
    """Brute force: every row is scored, so nothing can be missed."""

    exact = True

    def __init__(self, raw: faiss.IndexFlatIP) -> None:
        self.raw = raw

    @classmethod
    def build(cls, vectors: np.ndarray) -> "FlatIndex":
        index = cls(faiss.IndexFlatIP(vectors.shape[1]))
        index.add(vectors)
        return index

    def add(self, vectors: np.ndarray) -> None:
        self.raw.add(np.ascontiguousarray(vectors, dtype=np.float32))

    def search(self, query: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        scores, rows = self.raw.search(query.reshape(1, -1).astype(np.float32), min(n, self.count()))
        return rows[0], scores[0]

    def count(self) -> int:
        return int(self.raw.ntotal)

    def vectors(self) -> np.ndarray:
        """The stored rows, as a view of FAISS's own memory (no copy)."""
        raw = self.raw
        return faiss.rev_swig_ptr(raw.get_xb(), raw.ntotal * raw.d).reshape(raw.ntotal, raw.d)

    def save(self, path: Path) -> None:
        faiss.write_index(self.raw, str(path))
