"""Building and updating an index: embed only new or changed files, drop removed ones, write atomically."""

import dataclasses
import fcntl
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np

from index import chunking, deep, passage_vectors, sentence_layer
from index.chunk_list import ChunkList, MergedChunks
from index.deep import DeepLayer
from index.dense import approximate, generation, milvus
from index.embed_cache import (
    CACHE_DIR,
    CachedVectors,
    EmbeddingCache,
    cache_id,
    cached_rows,
    embed_with_cache,
    embedder_folder,
)
from index.embedding import DalilEmbedding
from index.errors import ArticleError, DeepFillInterrupted, IndexError_, IndexMismatch, IndexMissing
from index.lexical import TOKENISER_VERSION, LexicalIndex, tokenise
from index.loading import LoadedFile, find_files, load_if_changed
from index.normalise import NORMALISER_VERSION
from index.records import Chunk
from index.sentence_layer import SentenceLayer
from index.store import (
    FORMAT_VERSION,
    GRAPH,
    PassageIndex,
    check_compatible,
    load_index,
    read_manifest,
    remove_old_generations,
    save_index,
)

# The deep layer is embedded this many passages at a time (with their sentences), and published as a new
# generation about this often (never more often; less when a publish is slow: PUBLISH_SHARE), so a long fill
# shows its gains while it runs and Ctrl-C loses little.
DEEP_BATCH = 8
DEEP_PUBLISH_SECONDS = 60.0
PUBLISH_SHARE = 10  # ... and at most a tenth of a fill's time goes to publishing (see _fill_in_steps)
# The fast encoder's sentence vectors are embedded this many passages at a time: ~10,000 sentences, enough
# for the worker processes (parallel_embed.PARALLEL_MIN) and for a minute or so of work on 2 cores.
SENTENCE_BATCH = 4096
# Room kept for new rows when the previous index's graph is loaded: an update adding up to this many passages
# grows it without copying every vector (hnsw.load).
SPARE_ROWS = 4096
# Vectors by passage text, beside the generations: a changed or re-added file re-embeds only new text.
EMBED_CACHE = CACHE_DIR
T = TypeVar("T")  # what _read_for_update reads: a manifest or a whole index
L = TypeVar("L", DeepLayer, SentenceLayer)  # a per-passage layer carried over by _carried_layer
# Progress is reported as (texts embedded so far, texts to embed): sentences with USE, else passages.
Progress = Callable[[int, int], None]


@dataclass
class BuildReport:
    """What a build did, for the person who ran it."""

    files: int = 0
    articles: int = 0
    passages: int = 0
    embedded: int = 0  # texts the fast encoder embedded in this run: sentences with USE, else passages
    deep_embedded: int = 0  # passages (with their sentences) given deep vectors in this run
    deep_seconds: float = 0.0  # time spent filling the deep layer
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # messages about files left out
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    written: bool = False


def index_settings(embedder: DalilEmbedding) -> dict:
    """The settings an index records and checks on load: any change means a different index."""
    return {
        "embedder": {"id": embedder.model_name, "dim": embedder.dim},
        "normaliser_version": NORMALISER_VERSION,
        "tokeniser_version": TOKENISER_VERSION,
        "chunking": {"max_chars": chunking.DEFAULT_MAX_CHARS, "min_chars": chunking.DEFAULT_MIN_CHARS},
    }


def build_index(paths: list[Path], index_dir: Path, embedder: DalilEmbedding, *, rebuild: bool = False,
                skip_bad: bool = False, progress: Progress | None = None,
                deep_embedder: DalilEmbedding | None = None, deep_progress: Progress | None = None,
                milvus_uri: str | None = None, sentence_progress: Progress | None = None) -> BuildReport:
    """Make the index at ``index_dir`` hold exactly the articles under ``paths``.

    Unchanged files (same content hash) keep their passages and vectors; only new or changed files
    are embedded. Nothing is written until everything succeeded, so any failure, or Ctrl-C, leaves
    the previous index as it was. The fast layer (passage vectors, BM25) is published first, with the fast
    encoder's sentence vectors (index/sentence_layer.py) when its passage vectors are made from them
    (index/passage_vectors.py), else those are filled in next; then, with a ``deep_embedder``, the deep
    layer (index/deep.py) is filled in behind it, published in steps.
    With ``milvus_uri`` the vectors also go to a Milvus collection, which queries then search
    (index/dense/milvus.py).
    """
    started = time.perf_counter()
    report = BuildReport()
    settings = index_settings(embedder)
    deep_id = deep_embedder.model_name if deep_embedder else None
    with _write_lock(index_dir):
        remove_old_generations(index_dir)  # what a killed build left: it never became `current`
        if rebuild:  # embed everything again, as asked: the cache could be what is wrong
            shutil.rmtree(index_dir / EMBED_CACHE, ignore_errors=True)
        manifest = None if rebuild else _current_manifest(index_dir, settings, report)
        known = manifest["files"] if manifest else {}
        loaded = _load_all(paths, report, skip_bad, known)
        if manifest and _up_to_date(manifest, loaded, deep_id, milvus_uri):
            _report_unchanged(report, loaded, known)
            report.seconds = time.perf_counter() - started
            return report  # already up to date: nothing to load or write
        previous = _previous_index(index_dir, settings) if manifest else None
        if previous is not None and not _stored_in_place(previous):
            report.notes, report.skipped = [], []
            loaded = _load_all(paths, report, skip_bad, {})  # every file read again, its notes and checks too
            report.notes.append("The index held some files twice (written before each file was indexed once); "
                                "every file was read again.")
            previous = None  # its rows are not reused; the embedding cache still spares re-embedding
        cache = EmbeddingCache(index_dir / EMBED_CACHE, embedder)  # its keys read once for the whole build
        chunks, new_vectors, sources, deep_layer, sentences = _assemble(loaded, previous, embedder, deep_embedder,
                                                                        report, progress, cache)
        report.files, report.passages = len(loaded), len(chunks)
        files = _file_records(loaded, chunks, previous)
        report.articles = sum(len(record["articles"]) for record in files.values())
        unchanged = not (report.added or report.changed or report.removed)
        if previous is not None and unchanged and _deep_id(previous) == deep_id:
            index = previous  # already up to date: nothing to write, but the deep layer may be unfinished
            # Into Milvus or out of it, or built before the deep layer went there: the same generation, with its
            # store synced and named.
            moved = milvus.store_moved(index.manifest, milvus_uri)
            if moved or milvus.deep_collection_missing(index.manifest, deep_id):
                milvus.name_store(index_dir, index.manifest, index.chunks, index.vectors, milvus_uri)
                _publish(index_dir, index)
                report.written = True
        else:
            manifest = dict(settings, paths=[str(p.resolve()) for p in paths], created_at=_now(), files=files,
                            counts={"articles": report.articles, "passages": len(chunks)})
            appends = generation.appends(previous, sources)
            graph_now = not generation.graph_from_nothing(previous, sources, appends)
            vectors, graph, moments = generation.assembled(previous, sources, new_vectors, appends, graph=graph_now)
            milvus.name_store(index_dir, manifest, chunks, vectors, milvus_uri)
            new_tokens = [tokenise(c.text) for c in chunks.new]
            lexical = LexicalIndex.assemble(previous.lexical if previous else None, sources, new_tokens)
            todo = np.flatnonzero(~sentences.done).tolist()
            if 0 < len(todo) <= SENTENCE_BATCH:  # an update's few new passages: published once, not twice
                _sentence_filler(chunks, sentences, embedder, cache)(todo)
            index = PassageIndex(chunks=chunks, vectors=vectors, lexical=lexical, manifest=manifest,
                                 deep=deep_layer, faiss_index=graph, moments=moments, sentences=sentences,
                                 stored=previous.stored if appends else None)
            _publish(index_dir, index)
            report.written = True
        if len(index.chunks) > approximate.flat_max() and not index.approximate:  # published exact: now the graph
            _publish_graph(index_dir, index)
            report.written = True
        if not index.sentences.complete:
            _fill_sentences(index_dir, index, embedder, report, sentence_progress, cache)
        if deep_embedder is not None and not index.deep.complete:
            _fill_deep(index_dir, index, deep_embedder, report, deep_progress)
    report.seconds = time.perf_counter() - started
    return report


def _deep_id(index: PassageIndex) -> str | None:
    return index.deep.model_id if index.deep is not None else None


def _publish(index_dir: Path, index: PassageIndex) -> None:
    """Write ``index`` as the current generation, its manifest saying how much of the sentence vectors and
    of the deep layer is done."""
    cache = cache_id(index_dir / EMBED_CACHE)
    # A new dict: the loaded one may be store's copy of the manifest file, which other readers share.
    index.manifest = {key: value for key, value in index.manifest.items() if key != "deep"}
    index.manifest["sentences"] = {"done": int(index.sentences.done.sum()), "passages": len(index.chunks),
                                   "cache": cache}
    dense = index.manifest.get("dense")
    if dense and index.deep is None:
        index.manifest["dense"] = {key: value for key, value in dense.items() if key != "deep_collection"}
    if index.deep is not None:
        index.manifest["deep"] = {"id": index.deep.model_id, "dim": index.deep.dim,
                                  "done": int(index.deep.done.sum()), "passages": len(index.chunks), "cache": cache}
        if dense and dense.get("kind") == "milvus":
            from index.dense.milvus import publish_deep

            index.manifest["dense"] = publish_deep(dense, index.chunks, _readable(index_dir, index.deep))
    save_index(index_dir, index)


def _readable(index_dir: Path, layer: DeepLayer) -> DeepLayer:
    """The deep layer with its vectors readable: a build's names rows of the cache, appended since it was
    opened (vectors a reader opens see only the rows there were then)."""
    folder = embedder_folder(index_dir / EMBED_CACHE, layer.model_id, layer.dim)
    return dataclasses.replace(layer, cache=CachedVectors(folder, layer.dim))


def _fill_sentences(index_dir: Path, index: PassageIndex, embedder: DalilEmbedding, report: BuildReport,
                    progress: Progress | None, cache: EmbeddingCache) -> None:
    """Give every passage not yet done its sentences' fast vectors (through the embedding cache, where a
    one-sentence passage finds its own vector), publishing a generation every so often."""
    _fill_in_steps(index_dir, index, np.flatnonzero(~index.sentences.done).tolist(),
                   _sentence_filler(index.chunks, index.sentences, embedder, cache), SENTENCE_BATCH, progress)
    report.written = True


def _sentence_filler(chunks: Sequence[Chunk], layer: SentenceLayer, embedder: DalilEmbedding,
                     cache: EmbeddingCache) -> Callable[[list[int]], None]:
    """What fills passages' rows of ``layer``: their sentences' rows in the embedding cache (embedded first
    where the cache lacks them)."""
    return lambda rows: layer.fill(chunks, lambda texts: cached_rows(texts, embedder, cache), rows)


def _fill_deep(index_dir: Path, index: PassageIndex, embedder: DalilEmbedding, report: BuildReport,
               progress: Progress | None) -> None:
    """Give every passage not yet done its deep vectors, publishing a generation every so often.

    Through the embedding cache, like the fast layer: a changed file's unchanged passages and sentences,
    or text another index in this folder's history already had, are not embedded again.
    """
    started = time.monotonic()
    cache = EmbeddingCache(index_dir / EMBED_CACHE, embedder)  # read once, not for every batch of 8 passages

    def fill(rows: list[int]) -> None:
        deep.fill(index.deep, index.chunks, lambda texts: cached_rows(texts, embedder, cache), rows)
        report.deep_embedded += len(rows)

    _fill_in_steps(index_dir, index, np.flatnonzero(~index.deep.done).tolist(), fill, DEEP_BATCH, progress)
    report.written = True
    report.deep_seconds = time.monotonic() - started


def _fill_in_steps(index_dir: Path, index: PassageIndex, todo: list[int], fill: Callable[[list[int]], None],
                   batch: int, progress: Progress | None) -> None:
    """``fill`` the passages ``todo``, ``batch`` at a time, publishing a generation every so often and at
    the end; Ctrl-C keeps every step published so far.

    Every ``DEEP_PUBLISH_SECONDS``, or ``PUBLISH_SHARE`` times the last publish's own duration if longer: in
    index format 4 a publish rewrote ~1.3 GB with a deep layer at 20,000 articles (10-20 s under load), which
    at once a minute took a third of the deep fill's time there. Format 5 links the big files and stores the
    deep layer as cache rows, so a publish there writes ~40 MB (the graph's links, rows, moments, manifest).
    """
    last_publish, interval = time.monotonic(), DEEP_PUBLISH_SECONDS
    for start in range(0, len(todo), batch):
        try:
            fill(todo[start:start + batch])
        except KeyboardInterrupt:
            raise DeepFillInterrupted from None
        if progress:
            progress(min(start + batch, len(todo)), len(todo))
        if time.monotonic() - last_publish >= interval and start + batch < len(todo):
            began = time.monotonic()
            _publish(index_dir, index)
            last_publish = time.monotonic()
            interval = max(DEEP_PUBLISH_SECONDS, PUBLISH_SHARE * (last_publish - began))
    _publish(index_dir, index)


def _current_manifest(index_dir: Path, settings: dict, report: BuildReport) -> dict | None:
    """The current index's manifest (cheap: nothing else is read), or None when there is none, or when it is
    in an older format: the index is then built again, from the embedding cache (a format change must
    not cost a 20,000-article archive its hours of deep-layer embedding)."""
    manifest = _read_for_update(index_dir, lambda folder: read_manifest(folder, any_format=True))
    if manifest is not None:
        check_compatible(manifest, settings, index_dir)
        if manifest.get("format") != FORMAT_VERSION:
            report.notes.append(f"the index was in format {manifest.get('format')}: written again in format "
                                f"{FORMAT_VERSION} from its embedding cache")
            return None
    return manifest


def _up_to_date(manifest: dict, loaded: list[LoadedFile], deep_id: str | None, milvus_uri: str | None) -> bool:
    """Same files with the same hashes, the sentence vectors and the deep layer asked for complete, the same
    dense store: nothing to do."""
    deep_done, sentences = manifest.get("deep") or {}, manifest.get("sentences") or {}
    # A file indexed twice by a build before find_files kept each once leaves more passages than its records
    # count (see _stored_in_place): not up to date, whatever the files.
    counted = sum(record["passages"] for record in manifest["files"].values())
    return (len(loaded) == len(manifest["files"]) and all(item.unchanged for item in loaded)
            and counted == manifest.get("counts", {}).get("passages", counted)
            and sentences.get("done") == sentences.get("passages")
            and deep_done.get("id") == deep_id and deep_done.get("done") == deep_done.get("passages")
            and not milvus.store_moved(manifest, milvus_uri) and not milvus.deep_collection_missing(manifest, deep_id)
            and not _graph_missing(manifest))


def _graph_missing(manifest: dict) -> bool:
    """Published with exact search above FLAT_MAX passages (the manifest of a saved generation): the build
    that was to add the graph stopped before it did."""
    return (manifest.get("counts", {}).get("passages", 0) > approximate.flat_max()
            and GRAPH not in manifest.get("checksums", {}))


def _publish_graph(index_dir: Path, index: PassageIndex) -> None:
    """Give a generation published with exact search its graph and moments, and publish it again (its
    passages and vectors are shared with the first, by hard link)."""
    index.vectors, index.faiss_index, index.moments = generation.with_graph(np.asarray(index.vectors))
    _publish(index_dir, index)


def _report_unchanged(report: BuildReport, loaded: list[LoadedFile], known: dict) -> None:
    records = [known[str(item.path.resolve())] for item in loaded]
    report.files = len(loaded)
    report.articles = sum(len(record["articles"]) for record in records)
    report.passages = sum(record["passages"] for record in records)


def _previous_index(index_dir: Path, settings: dict) -> PassageIndex | None:
    previous = _read_for_update(index_dir, lambda folder: load_index(folder, spare_rows=SPARE_ROWS))
    if previous is not None:
        check_compatible(previous.manifest, settings, index_dir)
    return previous


def _read_for_update(index_dir: Path, read: Callable[[Path], T]) -> T | None:
    """``read(index_dir)``, or None when there is no index yet; a damaged one says it cannot be updated."""
    try:
        return read(index_dir)
    except IndexMissing:
        return None
    except IndexMismatch:
        raise
    except IndexError_ as err:
        raise IndexError_(f"{err.message} It cannot be updated.",
                          f"Rebuild it with `dalil index --rebuild --index-dir {index_dir} PATH...`.") from err


def _load_all(paths: list[Path], report: BuildReport, skip_bad: bool, known: dict) -> list[LoadedFile]:
    loaded, problems = [], []
    for path, source in find_files(paths):
        record = known.get(str(path.resolve()), {})
        try:  # a file now cited under another name is read again, so its passages carry the new name
            item = load_if_changed(path, source, record.get("sha256") if record.get("source") == source else None)
        except ArticleError as err:
            problems.append(str(err.message))
            continue
        if item.note:
            report.notes.append(item.note)
        loaded.append(item)
    if problems and not skip_bad:
        listing = "\n  ".join(problems)
        raise ArticleError(f"{len(problems)} file(s) cannot be indexed:\n  {listing}\n",
                           "Fix or remove them, or pass --skip-bad to index the rest. The index was not changed.")
    report.skipped = problems
    if not loaded:
        raise ArticleError("No readable articles were found in the paths given.",
                           "Give files or folders with .txt, .md, .html or .jsonl articles.")
    return loaded


def _assemble(loaded: list[LoadedFile], previous: PassageIndex | None, embedder: DalilEmbedding,
              deep_embedder: DalilEmbedding | None, report: BuildReport, progress: Progress | None,
              cache: EmbeddingCache) -> tuple[MergedChunks, np.ndarray, np.ndarray, DeepLayer | None, SentenceLayer]:
    """Chunks, deep layer and sentence layer in file order, reusing the previous index's rows for unchanged
    files; the new passages' vectors; and for each row, the previous index's row it came from (-1: new)."""
    old_files = previous.manifest["files"] if previous else {}
    old_rows = _rows_by_file(previous) if previous else {}
    pieces: list[tuple[list[Chunk], list[int] | None]] = []  # (new passages, []) or ([], previous rows)
    for item in loaded:
        key = str(item.path.resolve())
        old = old_files.get(key)
        if old and old["sha256"] == item.sha256 and old["source"] == item.source and key in old_rows:
            pieces.append(([], old_rows[key]))
            continue
        (report.changed if old else report.added).append(item.source)
        pieces.append(([c for article in item.articles for c in chunking.chunk_article(article)], None))
    current = {str(item.path.resolve()) for item in loaded}
    report.removed = sorted(record["source"] for key, record in old_files.items() if key not in current)
    new_chunks = [c for piece_chunks, rows in pieces if rows is None for c in piece_chunks]
    sources = np.concatenate([rows if rows is not None else np.full(len(piece_chunks), -1)
                              for piece_chunks, rows in pieces]).astype(np.int64)
    chunks = MergedChunks(previous.chunks if previous else None, sources, new_chunks)
    sentences = _carried_layer(pieces, previous, previous.sentences if previous else None,
                               SentenceLayer.empty, sentence_layer.concatenate)
    if embedder.passages_from_sentences:  # one pass over the text: the sentence layer is filled on the way
        new_vectors, sentence_rows, report.embedded = passage_vectors.from_sentences(new_chunks, embedder, cache,
                                                                                    progress)
        sentences.place(np.flatnonzero(sources < 0).tolist(), sentence_rows)
    else:
        new_vectors, report.embedded = embed_with_cache([c.text for c in new_chunks], embedder,
                                                        cache.folder.parent, progress, cache)
    if deep_embedder is None:
        return chunks, new_vectors, sources, None, sentences
    reused_deep = previous.deep if previous is not None and _deep_id(previous) == deep_embedder.model_name else None
    deep_layer = _carried_layer(pieces, previous, reused_deep,
                                lambda passages: DeepLayer.empty(deep_embedder.model_name, deep_embedder.dim, passages),
                                deep.concatenate)
    return chunks, new_vectors, sources, deep_layer, sentences


def _carried_layer(pieces: list[tuple[list[Chunk], list[int] | None]], previous: PassageIndex | None,
                   reused: L | None, empty: Callable[[list[Chunk]], L], join: Callable[[list[L]], L]) -> L:
    """A per-passage layer (deep or sentence vectors) for the assembled passages: the rows of ``reused``
    (the previous index's layer) for unchanged files, ``empty`` rows (to be filled) everywhere else."""
    parts = []
    for chunks, rows in pieces:
        if reused is not None and rows is not None:
            parts.append(reused.take(rows))
        else:  # a reused file's passages are read back only here, when its rows must be redone
            parts.append(empty(chunks if rows is None else [previous.chunks[i] for i in rows]))
    return join(parts)


def _rows_by_file(index: PassageIndex) -> dict[str, list[int]]:
    """Row numbers of each file's passages: files are stored in manifest order, passages in file order."""
    rows, start = {}, 0
    for key, record in index.manifest["files"].items():
        rows[key] = list(range(start, start + record["passages"]))
        start += record["passages"]
    return rows


def _stored_in_place(index: PassageIndex) -> bool:
    """Whether each file's passages are where the manifest says (its first and last rows checked, from their
    stored lines). Not so when a build before ``find_files`` kept each file once indexed a file reached twice
    (a symlink to another file, a path given twice) twice."""
    files, rows = index.manifest["files"], _rows_by_file(index)
    return (sum(len(kept) for kept in rows.values()) == len(index.chunks)
            and all(_holds(index.chunks, row, files[key]["source"]) for key, kept in rows.items()
                    for row in kept[:1] + kept[-1:]))


def _holds(chunks: Sequence[Chunk], row: int, source: str) -> bool:
    """Whether stored passage ``row`` is one of ``source``'s (from its JSON line, unparsed, when stored)."""
    if not isinstance(chunks, ChunkList):
        return chunks[row].source == source
    return b'"source": ' + json.dumps(source, ensure_ascii=False).encode() in chunks.line(row)


def _file_records(loaded: list[LoadedFile], chunks: MergedChunks, previous: PassageIndex | None) -> dict:
    """Per file, in passage order: source, content hash, when added, its articles and passage count."""
    old_files = previous.manifest["files"] if previous else {}
    per_article: dict[str, int] = {}
    for chunk in chunks.new:  # unchanged files keep their records
        per_article[chunk.article_id] = per_article.get(chunk.article_id, 0) + 1
    records = {}
    for item in loaded:
        key = str(item.path.resolve())
        old = old_files.get(key, {})
        if item.unchanged:  # not parsed this time: its record stands as it was
            records[key] = old
            continue
        added_at = old.get("added_at") if old.get("sha256") == item.sha256 else None
        records[key] = {
            "source": item.source,
            "sha256": item.sha256,
            "added_at": added_at or _now(),
            "passages": sum(per_article.get(a.id, 0) for a in item.articles),
            "articles": [{"id": a.id, "title": a.title, "passages": per_article.get(a.id, 0),
                          "metadata": a.metadata} for a in item.articles],
        }
    return records


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


@contextmanager
def _write_lock(index_dir: Path) -> Iterator[None]:
    """One writer at a time. flock dies with its process, so a killed build leaves no stale lock.

    The holder writes its pid into the file, so a refused writer can say who holds it; a pid left
    there by a killed writer means nothing, since the lock itself is gone.
    """
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(index_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:  # a file of that name, a read-only disk, another user's folder
        reason = "it is a file" if index_dir.is_file() else err.strerror
        raise IndexError_(f"The index folder {index_dir} cannot be written: {reason}.",
                          "Give --index-dir (or DALIL_INDEX_DIR) a folder you can write to.") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            raise IndexError_(f"Another process (pid {holder}) is updating the index at {index_dir}.",
                              "Wait for it to finish, then try again.") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)
