"""The stored index: passages, their FAISS vectors, BM25 and a manifest, in one folder generation.

Layout of an index folder (``--index-dir``)::

    current -> gen-<time>-<pid>     symlink, swapped atomically when a new generation is complete
    gen-.../manifest.json           embedder, normaliser, chunking, files + hashes, file checksums
    gen-.../chunks.jsonl            one passage (Chunk) per line, in vector order           (appendable)
    gen-.../vectors.f32             their L2-normalised float32 vectors, row after row      (appendable)
    gen-.../graph.faiss             above FLAT_MAX passages: a graph index over them, without the vectors
    gen-.../lexical/                BM25 over normalised, light-stemmed tokens
    gen-.../sentences-*.npy         where the fast encoder's sentence vectors are in the cache (sentence_layer.py)
    gen-.../deep-*.npy              the deep layer: a second encoder's passage and sentence vectors (deep.py)
    gen-.../dense-moments.npz       above FLAT_MAX passages, whose vectors.faiss is then a graph index (HNSW):
                                    the vectors' moments, for fusion (dense/approximate.py)
    .lock                           held (flock) by the one process writing a new generation

A reader only ever opens what ``current`` points at, so a build that dies half-way leaves the
previous index exactly as it was.

The appendable files are shared with the next generation when it only adds passages after every existing
one (index/appendable.py); any other change writes them anew.
"""

import hashlib
import json
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from index import appendable
from index.appendable import APPENDABLE, Stored
from index.deep import DeepLayer
from index.dense import approximate, hnsw, top
from index.dense.moments import Moments
from index.embed_cache import CACHE_DIR, CachedVectors, embedder_folder, read_cache_id
from index.errors import IndexDamaged, IndexMismatch, IndexMissing
from index.lexical import LexicalIndex
from index.records import Chunk
from index.sentence_layer import SentenceLayer

# 2: BM25 as stored term counts, the deep layer; 3: its fast-encoder sentence vectors; 4: those in the fast
# layer's sentence layer (filled with or without a deep layer), a graph index and moments above FLAT_MAX.
# 5: chunks.jsonl and vectors.f32 appendable, shared by hard link; the graph without its vectors.
# 6: USE passage vectors made from their sentences' vectors (index/passage_vectors.py).
FORMAT_VERSION = 6
CURRENT = "current"
# Files up to this size are verified whole on every load. Past it only their size and first and last MiB
# are: hashing a 20,000-article index whole (~350 MB) took ~1 s of each `dalil ask` and of each update,
# against a 2.5 s budget. Truncation, a zeroed or half-written file are still caught; a bit flipped in
# the middle of a big file is not (FAISS and JSON parsing catch some of those).
FULL_CHECK_BYTES = 32 << 20
EDGE_BYTES = 1 << 20
LOAD_ATTEMPTS = 3  # a reader races at most this many publishes before giving up
# The last manifest parsed, by its file's identity: an update reads the current one three times (what to
# index, whether it is up to date, the index itself), and parsing it took ~0.04 s each at 20,000 articles.
_last_manifest: tuple[tuple, dict] | None = None
GRAPH = "graph.faiss"


@dataclass
class PassageIndex:
    """Everything needed to search: passages in vector order, the vectors, BM25, the manifest."""

    chunks: Sequence[Chunk]  # a ChunkList when loaded: parsed on use
    vectors: np.ndarray  # (n, dim) float32, L2-normalised, row i = chunks[i]
    lexical: LexicalIndex
    manifest: dict
    # Holding ``vectors`` already (as loaded): IndexFlatIP, or above FLAT_MAX passages IndexHNSWFlat; else
    # a flat index is built here.
    faiss_index: faiss.Index | None = None
    deep: DeepLayer | None = None  # the second encoder's vectors, when the index has a deep layer
    sentences: SentenceLayer | None = None  # the fast encoder's sentence vectors (as far as filled)
    dense_store: Any = None  # a scale-out dense store (index/dense/milvus.py) searched instead, if any
    deep_store: Any = None  # the same for the deep layer's passage vectors (its done passages)
    # Above FLAT_MAX passages: the vectors' moments (the mean and spread of a question's cosine over all
    # passages, for fusion without scoring them all; dense/approximate.py).
    moments: Moments | None = None
    # Where the first rows already are on disk (set on load and on save; an update that only appends keeps it).
    stored: Stored | None = None

    def __post_init__(self) -> None:
        if self.faiss_index is None:
            self.faiss_index = faiss.IndexFlatIP(self.vectors.shape[1])
            self.faiss_index.add(self.vectors)

    @property
    def vector_store(self) -> Any:
        """The FAISS index as llama-index's ``FaissVectorStore``, for any llama-index consumer (imported
        only here: llama-index takes ~0.7 s to import, which answering a question does not need)."""
        from llama_index.vector_stores.faiss import FaissVectorStore

        return FaissVectorStore(faiss_index=self.faiss_index)

    @property
    def approximate(self) -> bool:
        """True when dense search finds the nearest passages through a graph instead of scoring them all."""
        return isinstance(self.faiss_index, faiss.IndexHNSWFlat)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def dense_scores(self, query_vector: np.ndarray) -> np.ndarray:
        """Cosine similarity of the query to every passage (brute force; exact)."""
        return self.vectors @ query_vector.astype(np.float32)

    def dense_search(self, query_vector: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` passages nearest the query, best first, and their cosines: through the graph when the
        index has one (approximate), else from every vector."""
        if self.approximate:
            return hnsw.search(self.faiss_index, query_vector, n)
        return top(np.arange(len(self.vectors)), self.dense_scores(query_vector), n)


def current_generation(index_dir: Path) -> Path:
    """The folder of the complete index generation in ``index_dir``, or ``IndexMissing``."""
    link = index_dir / CURRENT
    if not link.exists():
        raise IndexMissing(f"No index at {index_dir}.",
                           "Run `dalil index PATH...` (for example `dalil index seeds/`) to build one.")
    return link.resolve()


def load_index(index_dir: Path, spare_rows: int | None = None) -> PassageIndex:
    """Load and verify the current index; a damaged file raises ``IndexDamaged`` naming it. ``spare_rows``:
    loaded by a build to update it, with room for that many rows to be added to the graph (hnsw.load), and
    the passages memory-mapped, not read (an append reads none of them)."""
    for _ in range(LOAD_ATTEMPTS - 1):
        folder = current_generation(index_dir)
        try:
            return _load_generation(folder, index_dir, spare_rows)
        except IndexDamaged:
            if current_generation(index_dir) == folder:
                raise
            # A build published meanwhile and removed the generation we were reading: read the new one.
    return _load_generation(current_generation(index_dir), index_dir, spare_rows)


def _load_generation(folder: Path, index_dir: Path, spare_rows: int | None = None) -> PassageIndex:
    manifest = _read_manifest(folder, index_dir)
    _verify_checksums(folder, manifest, index_dir)
    sizes = {name: manifest["checksums"][name]["size"] for name in APPENDABLE}
    try:
        chunks = appendable.passages(folder / "chunks.jsonl", sizes["chunks.jsonl"], manifest, spare_rows is not None)
        chunks.check()
        flat = _dense_index(folder, manifest["embedder"]["dim"], sizes["vectors.f32"], spare_rows or 0)
        # A view of the index's own memory, not a copy: the PassageIndex keeps ``flat`` alive with it.
        vectors = hnsw.stored_vectors(flat)
        lexical = LexicalIndex.load(folder / "lexical", lazy=spare_rows is not None)
        deep = _deep_layer(folder, index_dir, manifest, len(chunks))
        moments = approximate.load(folder, len(vectors))
        sentences = SentenceLayer.load(folder, len(chunks), _sentence_vectors(index_dir, manifest))
    except Exception as err:  # any parse failure means a damaged index, whatever the library raised
        raise IndexDamaged(f"The index at {index_dir} cannot be read ({type(err).__name__}: {err}).",
                           _rebuild_hint(index_dir)) from err
    if len(chunks) != vectors.shape[0]:
        raise IndexDamaged(f"The index at {index_dir} has {len(chunks)} passages but {vectors.shape[0]} vectors.",
                           _rebuild_hint(index_dir))
    return PassageIndex(chunks=chunks, vectors=vectors, lexical=lexical, manifest=manifest, faiss_index=flat,
                        deep=deep, dense_store=_dense_store(manifest, chunks, vectors.shape[1]), moments=moments,
                        sentences=sentences, deep_store=_dense_store(manifest, chunks, deep.dim if deep else 0,
                                                                     "deep_collection"),
                        stored=Stored(folder, len(chunks), sizes))


def _dense_index(folder: Path, dim: int, size: int, spare_rows: int) -> faiss.Index:
    """The generation's vectors in a flat index, or in its graph (above FLAT_MAX passages)."""
    rows = np.memmap(folder / "vectors.f32", dtype=np.float32, mode="r", shape=(size // (4 * dim), dim))
    if (folder / GRAPH).is_file():
        return hnsw.load(folder / GRAPH, rows, spare_rows)
    flat = faiss.IndexFlatIP(dim)
    flat.add(np.ascontiguousarray(rows))
    return flat


def _sentence_vectors(index_dir: Path, manifest: dict) -> CachedVectors:
    """The fast encoder's part of the index folder's embedding cache, where the sentence vectors are."""
    embedder = manifest["embedder"]
    return _cached_vectors(index_dir, embedder["id"], embedder["dim"], (manifest.get("sentences") or {}).get("cache"))


def _deep_layer(folder: Path, index_dir: Path, manifest: dict, passages: int) -> DeepLayer | None:
    """The deep layer, its vectors read from the deep encoder's part of the embedding cache."""
    deep = manifest.get("deep")
    if not deep:
        return None
    cache = _cached_vectors(index_dir, deep["id"], deep["dim"], deep.get("cache"))
    return DeepLayer.load(folder, deep["id"], deep["dim"], passages, cache)


def _cached_vectors(index_dir: Path, model_id: str, dim: int, recorded: str | None) -> CachedVectors:
    """One encoder's rows of the index folder's embedding cache, if it is the cache ``recorded`` (the one a
    generation's rows point into)."""
    folder = embedder_folder(index_dir / CACHE_DIR, model_id, dim)
    if recorded is not None and recorded != read_cache_id(index_dir / CACHE_DIR):
        folder = folder / "gone"  # another cache than the one the rows point into: read none of its rows
    return CachedVectors(folder, dim)


def _dense_store(manifest: dict, chunks: Sequence[Chunk], dim: int, key: str = "collection") -> Any:
    """The Milvus collection the manifest names under ``key`` (``--store milvus``; "deep_collection" for the
    deep layer's), or None for FAISS alone."""
    where = manifest.get("dense") or {}
    if where.get("kind") != "milvus" or key not in where:
        return None
    from index.dense.milvus import MilvusIndex

    return MilvusIndex(where["uri"], where[key], dim, [chunk.id for chunk in chunks])


def verify_index(index_dir: Path) -> Path:
    """Check the current generation's files against its manifest (hashing them); returns its folder."""
    folder = current_generation(index_dir)
    _verify_checksums(folder, _read_manifest(folder, index_dir), index_dir)
    return folder


def read_manifest(index_dir: Path, any_format: bool = False) -> dict:
    """The manifest of the current index (cheap: no vectors are loaded); ``any_format``: also of an index
    in an older format (which a build then writes again in this one)."""
    return _read_manifest(current_generation(index_dir), index_dir, any_format)


def manifest_to_update(index_dir: Path) -> dict | None:
    """The manifest a build would update: the current index's, in any format (a build writes an older one
    again), or None when there is no index yet."""
    try:
        return read_manifest(index_dir, any_format=True)
    except IndexMissing:
        return None


def check_compatible(manifest: dict, wanted: dict, index_dir: Path) -> None:
    """Refuse an index built with other settings, naming both values and the fix."""
    for key in ("embedder", "normaliser_version", "tokeniser_version", "chunking"):
        if manifest.get(key) != wanted.get(key):
            raise IndexMismatch(
                f"The index at {index_dir} was built with {key} = {json.dumps(manifest.get(key))}, "
                f"but {json.dumps(wanted.get(key))} was asked for.",
                "Rebuild it with `dalil index --rebuild PATH...`, or use another --index-dir.",
            )


def save_index(index_dir: Path, index: PassageIndex) -> Path:
    """Write a new generation beside the current one, then switch ``current`` to it atomically."""
    index_dir.mkdir(parents=True, exist_ok=True)
    folder = index_dir / f"gen-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 10**6}"
    try:
        folder.mkdir()
        _write_generation(folder, index)
        _fsync_tree(folder)
        tmp_link = index_dir / f".{CURRENT}.{os.getpid()}"
        tmp_link.unlink(missing_ok=True)
        tmp_link.symlink_to(folder.name)
        os.replace(tmp_link, index_dir / CURRENT)  # the one atomic step that publishes the new index
        _fsync_dir(index_dir)
    except BaseException:
        # Ctrl-C can land after the switch (even right after os.replace returns): the folder is then the index.
        if (index_dir / CURRENT).resolve() != folder.resolve():
            shutil.rmtree(folder, ignore_errors=True)
        raise
    remove_old_generations(index_dir)
    # Resolved: the next publish compares it with where `current` resolves to (a relative --index-dir, the
    # default, made every later publish of a build rewrite the big files instead of linking them).
    index.stored = Stored(folder.resolve(), len(index.chunks),
                          {name: (folder / name).stat().st_size for name in APPENDABLE})
    return folder


def remove_old_generations(index_dir: Path) -> None:
    """Delete generations that ``current`` no longer points at, and temporary links (left by killed builds).

    Call it only under the write lock: then no other writer is half-way through a generation.
    """
    keep = (index_dir / CURRENT).resolve().name if (index_dir / CURRENT).exists() else None
    for path in index_dir.glob("gen-*"):
        if path.name != keep:
            shutil.rmtree(path, ignore_errors=True)
    for link in index_dir.glob(f".{CURRENT}.*"):
        link.unlink(missing_ok=True)


def _write_generation(folder: Path, index: PassageIndex) -> None:
    stored = index.stored
    if stored is not None and stored.folder != (folder.parent / CURRENT).resolve():
        stored = None  # only the current generation's files are appended to: cutting back an older one's
        # size would cut rows that later generations appended
    start = stored.rows if stored is not None else 0
    with appendable.appended(folder / "chunks.jsonl", stored) as fh:
        fh.writelines(appendable.chunk_lines(index.chunks, start))
    with appendable.appended(folder / "vectors.f32", stored) as fh:
        fh.write(np.ascontiguousarray(index.vectors[start:], dtype=np.float32).tobytes())
    if index.approximate:
        hnsw.save(index.faiss_index, folder / GRAPH)
    (folder / "lexical").mkdir()
    index.lexical.save(folder / "lexical")
    if index.deep is not None:
        index.deep.save(folder)
    if index.sentences is not None:
        index.sentences.save(folder)
    approximate.save(folder, index.moments)
    checksums = {name: _checksum(folder / name) for name in _data_files(folder)}
    for name in APPENDABLE:  # later generations may append to it: only this many bytes are this one's
        checksums[name]["appendable"] = True
    manifest = dict(index.manifest, format=FORMAT_VERSION, checksums=checksums)
    # Not indented: json.dumps then runs in C (indented, 3.8 MB at 20,000 articles took ~0.3 s of each add).
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")


def _data_files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def _checksum(path: Path, whole: bool = False, size: int | None = None) -> dict:
    """Size and SHA-256 of the file (of its first ``size`` bytes if given); for a big file, of its first and
    last MiB only (see FULL_CHECK_BYTES), unless ``whole`` (an index written before that rule recorded
    whole-file digests)."""
    size = path.stat().st_size if size is None else size
    if size > FULL_CHECK_BYTES and not whole:
        return {"size": size, "edges_sha256": _edges_digest(path, size)}
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        left = size
        while block := fh.read(min(1 << 20, left)):
            digest.update(block)
            left -= len(block)
    return {"size": size, "sha256": digest.hexdigest()}


def _edges_digest(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        digest.update(fh.read(EDGE_BYTES))
        fh.seek(max(0, size - EDGE_BYTES))
        digest.update(fh.read(EDGE_BYTES))
    return digest.hexdigest()


def _read_manifest(folder: Path, index_dir: Path, any_format: bool = False) -> dict:
    """The generation's manifest: a new dict each time, whose values are shared with every other reader of
    the same file in this process (replace them, do not change them in place)."""
    global _last_manifest
    path = folder / "manifest.json"
    try:
        stat = path.stat()
        key = (str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns)
        if _last_manifest is not None and _last_manifest[0] == key:
            manifest = _last_manifest[1]
        else:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(manifest, dict) or "checksums" not in manifest:
            raise ValueError("not a Dalil manifest")
        _last_manifest = (key, manifest)
        manifest = dict(manifest)  # a caller may set or drop keys (a build naming its dense store)
    except (OSError, ValueError) as err:
        raise IndexDamaged(f"The index file {folder / 'manifest.json'} is missing or damaged ({err}).",
                           _rebuild_hint(index_dir)) from err
    if manifest.get("format") != FORMAT_VERSION and not any_format:
        raise IndexMismatch(f"The index at {index_dir} has format {manifest.get('format')}; "
                            f"this Dalil reads format {FORMAT_VERSION}.",
                            f"Run `dalil index --index-dir {index_dir}` to write it in this format (its "
                            "embedding cache is kept, so nothing is embedded again).")
    return manifest


def _verify_checksums(folder: Path, manifest: dict, index_dir: Path) -> None:
    for name, expected in manifest["checksums"].items():
        path = folder / name
        try:
            damaged = not _matches(path, expected)
        except OSError:  # missing, or removed while being read
            raise IndexDamaged(f"The index file {path} is missing.", _rebuild_hint(index_dir)) from None
        if damaged:
            raise IndexDamaged(f"The index file {path} is damaged (its content does not match the manifest).",
                               _rebuild_hint(index_dir))


def _matches(path: Path, expected: dict) -> bool:
    """Whether the file is as the manifest recorded it; an appendable one may have grown (later generations'
    rows, or a killed writer's tail), its first ``size`` bytes must not have changed."""
    size = path.stat().st_size
    if size < expected["size"] or (size > expected["size"] and not expected.get("appendable")):
        return False
    found = _checksum(path, "sha256" in expected, expected["size"])
    return all(found[key] == expected[key] for key in found)


def _rebuild_hint(index_dir: Path) -> str:
    return f"Rebuild it with `dalil index --rebuild --index-dir {index_dir} PATH...`."


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
