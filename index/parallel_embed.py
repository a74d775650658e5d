"""Embedding many passages in worker processes with one BLAS thread each (two threads in one process
ran 5-6x slower on the shared 2-core machine: see benchmarks/scale/embed_workers.py)."""

import multiprocessing
import os
from collections.abc import Callable, Iterator

import numpy as np

from index.embedding import DalilEmbedding, cpu_count, load_embedder

BATCH = 64
# Below this many passages one process is quicker: a worker takes ~1 s to start (imports, model load).
PARALLEL_MIN = 2000
Progress = Callable[[int, int], None]

_worker_embedder: DalilEmbedding | None = None  # the embedder of this worker process


def embed(texts: list[str], embedder: DalilEmbedding, progress: Progress | None = None,
          workers: int | None = None) -> np.ndarray:
    """Vectors of ``texts`` in order (see ``batches``)."""
    parts, done = [], 0
    for vectors in batches(texts, embedder, workers):
        parts.append(vectors)
        done += len(vectors)
        if progress:
            progress(done, len(texts))
    return np.vstack(parts) if parts else np.zeros((0, embedder.dim), dtype=np.float32)


def batches(texts: list[str], embedder: DalilEmbedding, workers: int | None = None) -> Iterator[np.ndarray]:
    """Vectors of ``texts``, a batch at a time in order, from ``workers`` processes when there are enough.

    Workers load the embedder by name (``embedder.worker_name``); an embedder without one, or a small
    batch, is embedded here in this process.
    """
    workers = workers or embed_workers()
    chunks = [texts[start:start + BATCH] for start in range(0, len(texts), BATCH)]
    if workers < 2 or len(texts) < PARALLEL_MIN or not embedder.worker_name:
        yield from (embedder.embed_passages(chunk) for chunk in chunks)
        return
    # spawn, not fork: the server indexes uploads from a thread, and forking a threaded process can deadlock.
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, initializer=_start_worker, initargs=(embedder.worker_name,)) as pool:
        yield from pool.imap(_embed_batch, chunks)


def embed_workers() -> int:
    """Worker processes for a big batch: DALIL_EMBED_WORKERS, else one per core."""
    value = os.environ.get("DALIL_EMBED_WORKERS", "")
    return int(value) if value.isdigit() and int(value) > 0 else cpu_count()


def _start_worker(name: str) -> None:
    global _worker_embedder
    _worker_embedder = load_embedder(name)


def _embed_batch(texts: list[str]) -> np.ndarray:
    assert _worker_embedder is not None, "worker started without its embedder"
    return _worker_embedder.embed_passages(texts)
