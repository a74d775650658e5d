"""Passage vectors kept by content hash and embedder, so re-indexing never embeds unchanged text twice.

Layout (beside the index generations, under the build lock)::

    embed-cache/<embedder slug>/keys.bin      16-byte blake2b digests of passage texts, appended
    embed-cache/<embedder slug>/vectors.f32   their float32 vectors, appended in the same order

Vectors are appended before their keys, so a build killed mid-write leaves at most a tail that is
ignored, and cut off before the next append (appended after it, keys would name the tail's rows): a key
is never read without its vector. A killed build's embedded passages are kept, so the
next run resumes where it stopped. Rows never move, so an index generation can name the rows holding its
sentence vectors (index/sentence_layer.py) instead of storing a copy: ``CachedVectors`` reads them.

Only `dalil index --rebuild` deletes the cache, and a new one gets a new ``embed-cache/id``: a generation
records the id of the cache its rows are in, and a generation whose cache is gone (an interrupted rebuild
leaves the old generation current) reads its rows as missing, so the answer step embeds those sentences
again, instead of reading whatever the new cache holds at those rows.
"""

import hashlib
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from index import parallel_embed
from index.embedding import DalilEmbedding

CACHE_DIR = "embed-cache"  # the cache's folder inside an index folder
KEY_BYTES = 16
ID_FILE = "id"  # inside the cache folder: which cache this is (a new one after `--rebuild`)
# Vectors are written to the cache every this many new passages, so an interrupted build loses little.
FLUSH_EVERY = 4096
# Up to this many keys are looked up by scanning the stored keys; a bigger lookup first makes a dict of them
# all (~0.1 s for the ~390k keys of 20,000 articles: most of what adding one article spent on the cache).
SCAN_MAX = 256
Progress = Callable[[int, int], None]


def cache_id(cache_dir: Path) -> str:
    """The id of the cache in ``cache_dir``, made when there is none yet (call it under the build lock)."""
    path = cache_dir / ID_FILE
    if not path.is_file():
        cache_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(os.urandom(8).hex(), encoding="ascii")
    return path.read_text(encoding="ascii").strip()


def read_cache_id(cache_dir: Path) -> str | None:
    """The id of the cache in ``cache_dir``, or None when there is no cache (or no id yet)."""
    try:
        return (cache_dir / ID_FILE).read_text(encoding="ascii").strip()
    except OSError:
        return None


def text_key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=KEY_BYTES).digest()


class EmbeddingCache:
    """The vectors one embedder gave to passage texts, found by the texts' hashes."""

    def __init__(self, folder: Path, embedder: DalilEmbedding) -> None:
        self.folder = embedder_folder(folder, embedder.model_name, embedder.dim)
        self.dim = embedder.dim
        self._stored = np.zeros((0, 2), np.uint64)  # the keys read, as two 64-bit halves a row
        self._rows: dict[bytes, int] | None = None  # every key -> its row, made on the first big lookup
        self._appended: dict[bytes, int] = {}  # keys appended through this cache -> their rows
        self.count = 0  # rows with both a key and a whole vector (appends go after them)
        self.vectors = np.zeros((0, self.dim), dtype=np.float32)
        self._trimmed = False
        self._load()

    def _load(self) -> None:
        keys_path = self.folder / "keys.bin"
        if not (keys_path.is_file() and (self.folder / "vectors.f32").is_file()):
            return
        keys = keys_path.read_bytes()
        self.count = min(len(keys) // KEY_BYTES, (self.folder / "vectors.f32").stat().st_size // (4 * self.dim))
        self._map()
        self._stored = np.frombuffer(keys, np.uint64, 2 * self.count).reshape(-1, 2)  # a torn tail ignored

    def _rows_of(self, keys: list[bytes]) -> list[int]:
        """The row of each key, -1 where unknown."""
        if self._rows is None and len(keys) > SCAN_MAX:
            stored = self._stored.tobytes()
            # Reversed: a key stored twice (equal texts in one batch) names its first row, as a scan finds it.
            rows = reversed(range(len(self._stored)))
            self._rows = {stored[i * KEY_BYTES:(i + 1) * KEY_BYTES]: i for i in rows}
            self._rows.update(self._appended)
        if self._rows is not None:
            return [self._rows.get(key, -1) for key in keys]
        return [self._appended.get(key, -1) if key in self._appended else self._scan(key) for key in keys]

    def _scan(self, key: bytes) -> int:
        low, high = np.frombuffer(key, np.uint64)
        candidates = np.flatnonzero(self._stored[:, 0] == low)
        found = candidates[self._stored[candidates, 1] == high]
        return int(found[0]) if len(found) else -1

    def _map(self) -> None:
        # Memory-mapped: an update that finds one new passage reads one vector, not the 200 MB of 20k articles.
        if self.count:
            self.vectors = np.memmap(self.folder / "vectors.f32", dtype=np.float32, mode="r",
                                     shape=(self.count, self.dim))

    def lookup(self, keys: list[bytes]) -> tuple[np.ndarray, list[int]]:
        """Vectors for ``keys`` (zeros where unknown) and the positions of the unknown ones."""
        out = np.zeros((len(keys), self.dim), dtype=np.float32)
        rows = self._rows_of(keys)
        found = [i for i, row in enumerate(rows) if row >= 0]
        if found:
            if max(rows[i] for i in found) >= len(self.vectors):
                self._map()  # rows appended through this cache since it was mapped
            out[found] = self.vectors[[rows[i] for i in found]]
        return out, [i for i, row in enumerate(rows) if row < 0]

    def rows_of(self, keys: list[bytes]) -> np.ndarray:
        """The cache row of each key (-1 where unknown)."""
        return np.array(self._rows_of(keys), dtype=np.int64)

    def append(self, keys: list[bytes], vectors: np.ndarray) -> None:
        """Store new vectors on disk (vectors first, then keys), right after the last whole row."""
        fresh = [i for i, row in enumerate(self._rows_of(keys)) if row < 0]
        if not fresh:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        self._trim()
        block = np.ascontiguousarray(vectors[fresh], dtype=np.float32)
        # Synced: an index generation published after this may name these rows (index/sentence_layer.py).
        with open(self.folder / "vectors.f32", "ab") as fh:
            fh.write(block.tobytes())
            os.fsync(fh.fileno())
        with open(self.folder / "keys.bin", "ab") as fh:
            fh.write(b"".join(keys[i] for i in fresh))
            os.fsync(fh.fileno())
        added = {keys[i]: self.count + j for j, i in reversed(list(enumerate(fresh)))}  # the first of equal keys
        self._appended.update(added)
        if self._rows is not None:
            self._rows.update(added)
        self.count += len(fresh)

    def _trim(self) -> None:
        """Cut what a killed writer left past the last whole row (once, under the build lock): appended after
        it, new keys would name the tail's rows instead of their own vectors. No reader uses those rows:
        generations only name rows that had their keys."""
        if self._trimmed:
            return
        for name, size in (("vectors.f32", self.count * 4 * self.dim), ("keys.bin", self.count * KEY_BYTES)):
            path = self.folder / name
            if path.is_file() and path.stat().st_size > size:
                os.truncate(path, size)
        self._trimmed = True


def embedder_folder(cache_dir: Path, model_name: str, dim: int) -> Path:
    """The folder of one embedder's vectors inside ``cache_dir``."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", model_name)[:60]
    suffix = hashlib.sha1(model_name.encode()).hexdigest()[:8]  # names that slug alike stay apart
    return cache_dir / f"{slug}-{suffix}-{dim}"


class CachedVectors:
    """Read-only rows of one embedder's cache, memory-mapped as they were when opened (later appends are
    not seen; a missing cache reads as empty, so its rows are simply not available)."""

    def __init__(self, folder: Path, dim: int) -> None:
        path = folder / "vectors.f32"
        size = path.stat().st_size if path.is_file() else 0
        self.dim, self.count = dim, size // (4 * dim)
        self._vectors = np.memmap(path, dtype=np.float32, mode="r", shape=(self.count, dim)) if self.count else None

    def get(self, rows: np.ndarray) -> np.ndarray:
        """The vectors at ``rows`` (every one must be ``available``)."""
        return np.asarray(self._vectors[rows])

    def available(self, rows: np.ndarray) -> np.ndarray:
        return (rows >= 0) & (rows < self.count)


class CachedRows:
    """Vectors named by cache rows (-1: none), read like an array: indexing gathers them (zeros where a row is
    missing or not available), ``@`` multiplies them all (gathered once, then kept)."""

    def __init__(self, rows: np.ndarray, cache: CachedVectors | None, dim: int) -> None:
        self.rows, self.cache, self.dim = rows, cache, dim
        self._all: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.rows), self.dim)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index) -> np.ndarray:  # type: ignore[no-untyped-def]  # like an ndarray's
        rows = np.asarray(self.rows[index])
        flat = rows.reshape(-1)
        out = np.zeros((len(flat), self.dim), np.float32)
        found = self.cache.available(flat) if self.cache is not None else np.zeros(len(flat), bool)
        if found.any():
            out[found] = self.cache.get(flat[found])
        return out.reshape(rows.shape + (self.dim,))

    def __matmul__(self, vector: np.ndarray) -> np.ndarray:
        if self._all is None:
            self._all = self[:]
        return self._all @ vector


def embed_with_cache(texts: list[str], embedder: DalilEmbedding, cache_dir: Path, progress: Progress | None = None,
                     cache: EmbeddingCache | None = None) -> tuple[np.ndarray, int]:
    """Vectors of ``texts`` and how many were embedded: cached ones are looked up, the rest embedded (in
    parallel when many) and cached as they arrive, so an interrupted build keeps what it embedded. ``cache``:
    the cache already read (its keys take ~0.1 s to read at 20,000 articles), else it is read here."""
    cache = cache or EmbeddingCache(cache_dir, embedder)
    keys = [text_key(t) for t in texts]
    out, missing = cache.lookup(keys)
    for start, vectors in _embedded([texts[i] for i in missing], [keys[i] for i in missing], embedder, cache,
                                    progress):
        out[missing[start:start + len(vectors)]] = vectors
    return out, len(missing)


def cached_rows(texts: list[str], embedder: DalilEmbedding, cache: EmbeddingCache) -> np.ndarray:
    """The cache rows holding the vectors of ``texts``, embedding (and caching) those not there yet."""
    embed_uncached(texts, embedder, cache)
    return cache.rows_of([text_key(t) for t in texts])


def embed_uncached(texts: list[str], embedder: DalilEmbedding, cache: EmbeddingCache,
                   progress: Progress | None = None) -> int:
    """Embed into the cache each distinct text of ``texts`` it lacks; how many that was. The vectors are not
    kept in memory (the ~206k sentences of 20,000 articles have ~420 MB of them): readers find them in the
    cache by row."""
    keys = [text_key(t) for t in texts]
    first: dict[bytes, int] = {}
    for i in np.flatnonzero(cache.rows_of(keys) < 0):
        first.setdefault(keys[i], int(i))
    missing = sorted(first.values())
    for _ in _embedded([texts[i] for i in missing], [keys[i] for i in missing], embedder, cache, progress):
        pass
    return len(missing)


def _embedded(texts: list[str], keys: list[bytes], embedder: DalilEmbedding, cache: EmbeddingCache,
              progress: Progress | None) -> Iterator[tuple[int, np.ndarray]]:
    """Embed ``texts`` (in parallel when many), appending their vectors to the cache every FLUSH_EVERY, and
    yield each batch with its start."""
    done, pending, held = 0, 0, []
    for vectors in parallel_embed.batches(texts, embedder):
        yield done, vectors
        held.append(vectors)
        done += len(vectors)
        if done - pending >= FLUSH_EVERY or done == len(texts):
            cache.append(keys[pending:done], np.vstack(held))
            pending, held = done, []
        if progress:
            progress(done, len(texts))
