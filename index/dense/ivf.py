"""Approximate inner-product search with inverted lists (FAISS IndexIVFFlat): for large corpora.

Rows are grouped around ``lists`` centroids learnt from a sample; a query scans the ``probes`` nearest
lists only. Vectors are kept whole (no compression), so scores are exact for the rows scanned.
"""

from pathlib import Path

import faiss
import numpy as np

# Lists scanned per query. benchmarks/scale/ann.py, 1M x 512 clustered vectors, 2,048 lists: recall@10 1.0
# at 8 and 16 probes, p50 1.1 and 2.0 ms (one thread, machine load ~8); 16 leaves a margin for harder data.
DEFAULT_PROBES = 16
TRAIN_SAMPLE = 100_000  # centroids learnt from this many rows (FAISS wants >= 39 per list)


class IVFIndex:
    """Inverted lists over exact vectors; recall depends on ``probes`` (measured, not assumed)."""

    exact = False

    def __init__(self, raw: faiss.IndexIVFFlat, probes: int = DEFAULT_PROBES) -> None:
        self.raw = raw
        self.raw.nprobe = probes

    @staticmethod
    def lists_for(rows: int) -> int:
        """About 4 x sqrt(rows) lists, a power of two, within what the sample can train."""
        lists = 1 << max(4, int(np.log2(4 * np.sqrt(max(rows, 1)))))
        return max(16, min(lists, min(rows, TRAIN_SAMPLE) // 39))

    @classmethod
    def build(cls, vectors: np.ndarray, lists: int | None = None, probes: int = DEFAULT_PROBES,
              seed: int = 6) -> "IVFIndex":
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        lists = lists or cls.lists_for(len(vectors))
        quantizer = faiss.IndexFlatIP(vectors.shape[1])
        raw = faiss.IndexIVFFlat(quantizer, vectors.shape[1], lists, faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(seed)
        sample = vectors[rng.choice(len(vectors), min(len(vectors), TRAIN_SAMPLE), replace=False)]
        raw.train(sample)
        raw.add(vectors)
        return cls(raw, probes)

    def add(self, vectors: np.ndarray) -> None:
        self.raw.add(np.ascontiguousarray(vectors, dtype=np.float32))

    def search(self, query: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        scores, rows = self.raw.search(query.reshape(1, -1).astype(np.float32), min(n, self.count()))
        keep = rows[0] >= 0  # fewer than n rows in the lists probed
        return rows[0][keep], scores[0][keep]

    def count(self) -> int:
        return int(self.raw.ntotal)

    def save(self, path: Path) -> None:
        faiss.write_index(self.raw, str(path))
