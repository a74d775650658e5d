"""The served library: the current Assistant, and index updates (upload, removal) run in the background.

Questions are answered by whichever ``Assistant`` is current. An upload or a removal is indexed by one
worker thread, one job at a time; when the new index generation is written, a new ``Assistant`` over it
(sharing the loaded embedder) replaces the old one in one assignment. Questions asked meanwhile are
answered from the old index; a job that fails leaves the index, and the uploads folder, as they were.
A generation published by another process (`dalil index`, or the next step of its deep layer) is
noticed at the next question and loaded the same way, so answers improve while the deep layer fills.
"""

import fcntl
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from pathlib import Path

from assistant.generation import Event, Events, Generator
from assistant.indexing import milvus_uri
from assistant.qa import Assistant
from assistant.records import Answer
from assistant.settings import Settings
from index import dictionary
from index.build import build_index
from index.embedding import load_embedder
from index.errors import ArticleError, DalilError
from index.store import CURRENT, current_generation, load_index, verify_index
from ui.uploads import INCOMING, check_upload, place_upload, sha256_of

KEEP_FINISHED_JOBS = 100  # finished jobs still answered by GET /api/jobs/{id}; older ones are forgotten
REMOVING, REPLACED = ".removing-", ".replaced-"  # hidden (never indexed) until a job ends

log = logging.getLogger(__name__)
CLAIM = ".server"  # in the uploads folder: flocked by the server that manages it (claim_uploads)


class NotFound(DalilError):
    """No indexed article or file has the id or name asked for."""


class Refused(DalilError):
    """The change asked for is not allowed (e.g. removing a file Dalil did not upload)."""


@dataclass
class Job:
    """One index update: its state and progress, as the API and the page show it."""

    id: str
    action: str  # "add" or "remove"
    file: str
    state: str = "queued"  # queued -> indexing -> done | failed
    done: int = 0  # texts embedded so far (sentences with USE)
    total: int = 0  # passages to embed
    message: str = ""
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    ended: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)

    def to_json(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "ended"}

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")


@dataclass
class FileChange:
    """What a job did to the uploads folder before indexing, so that a failed job can undo it."""

    path: Path
    parked: Path | None = None  # the file's previous content, hidden until the index is updated
    new: bool = False  # there was no file at ``path`` before
    nothing_to_do: str = ""  # why the index need not change (an identical file is already indexed)

    def keep(self) -> None:
        if self.parked:
            self.parked.unlink(missing_ok=True)

    def undo(self) -> None:
        if self.parked and self.parked.exists():
            os.replace(self.parked, self.path)
        elif self.new:
            self.path.unlink(missing_ok=True)


class Library:
    """What the server serves: answers from the current index, the article list, and updates to it."""

    generator: Generator | None = None  # set when an LLM writes the answers (docs/llm.md); else extractive

    def __init__(self, assistant: Assistant, settings: Settings | None = None) -> None:
        self.settings = settings or assistant.settings
        self._assistant = assistant
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dalil-index")
        self._jobs: dict[str, Job] = {}
        self._jobs_lock = threading.Lock()  # request threads add jobs while others list them
        self._seen = self._published()  # the generation last loaded (or found damaged and skipped)
        self._following = False  # a load of a newer generation is queued
        self._uploads_claim = claim_uploads(self.uploads)
        if self._uploads_claim is not None:  # else another server's unfinished uploads would be deleted
            recover_uploads(self.uploads)
        self._verified: tuple = ()  # the index files' stat when last found whole: re-hashed only when it changes

    @property
    def assistant(self) -> Assistant:
        return self._assistant

    @property
    def uploads(self) -> Path:
        return self.settings.uploads_folder

    def answer(self, question: str, k: int | None = None, history: list[tuple[str, str]] | None = None) -> Answer:
        self._follow_published()
        if self.generator is not None:
            return self.generator.answer(self._assistant, question, k, history or ())
        return self._assistant.answer(question, k)

    def stream(self, question: str, k: int | None = None,
               history: list[tuple[str, str]] | None = None) -> Events:
        """The events of one answer (ui/stream.py); a bad question raises ``QuestionError`` before the first."""
        self._follow_published()
        question = self._assistant.check_question(question)
        if self.generator is not None:
            return self.generator.stream(self._assistant, question, k, history or ())
        answer = self._assistant.answer(question, k)
        return iter([Event("delta", answer.answer), Event("final", answer=answer)])

    def health(self) -> dict:
        """Counts of the index being served, and whether its files on disk are still whole.

        Answers come from the copy verified when it was loaded, so damage on disk does not reach them;
        it would stop the next update, so health reports it (``"status": "damaged"``, what to do in ``problem``).
        """
        manifest = self._assistant.index.manifest
        problem = self._disk_problem()
        return {"status": "damaged" if problem else "ok", "problem": problem, "index_loaded": True,
                "index_dir": str(self.settings.index_dir),
                "articles": manifest["counts"]["articles"], "passages": manifest["counts"]["passages"],
                "files": len(manifest["files"]), "embedder": manifest["embedder"], "deep": manifest.get("deep"),
                "indexing": any(not job.finished for job in self._job_list()),
                "dictionary": dictionary.configured()}

    def _disk_problem(self) -> str:
        """'' when the current index files match their manifest, else the one-line message saying what is wrong."""
        try:
            stamp = _stamp(current_generation(self.settings.index_dir))
            if stamp != self._verified:
                verify_index(self.settings.index_dir)
                self._verified = stamp
        except DalilError as err:
            return str(err)
        except OSError as err:  # a file vanished between listing and stat
            return f"The index at {self.settings.index_dir} changed while it was checked ({err})."
        return ""

    def articles(self) -> list[dict]:
        """One row per indexed article: id, title, file, passages, when added, uploaded or not."""
        rows = []
        for key, record in self._assistant.index.manifest["files"].items():
            uploaded = Path(key).parent == self.uploads.resolve()
            for article in record["articles"]:
                rows.append({"id": article["id"], "title": article["title"], "source": record["source"],
                             "passages": article["passages"], "added_at": record["added_at"],
                             "uploaded": uploaded, "metadata": article.get("metadata", {})})
        return rows

    def add(self, filename: str, data: bytes) -> Job:
        """Check an uploaded file (refusing bad ones at once) and queue storing and indexing it."""
        incoming, name = check_upload(self.uploads, filename, data, self.settings.max_upload_bytes)
        job = Job(id=uuid.uuid4().hex[:12], action="add", file=name)
        return self._submit(job, lambda: self._place(job, incoming))

    def remove(self, ref: str) -> Job:
        """Queue removing the uploaded file named ``ref``, or holding the article with id ``ref``."""
        key, record = self._find_file(ref)
        path = Path(key)
        if path.parent != self.uploads.resolve():
            raise Refused(f"'{record['source']}' was not uploaded here, so the server will not remove it.",
                          "Remove it from its folder and run `dalil index`, or upload articles to manage them here.")
        if len(self._assistant.index.manifest["files"]) == 1:
            raise Refused(f"'{record['source']}' is the only indexed file.", "Upload another article first.")
        job = Job(id=uuid.uuid4().hex[:12], action="remove", file=record["source"])
        return self._submit(job, lambda: self._park(job, path))

    def job(self, job_id: str) -> Job:
        with self._jobs_lock:
            found = self._jobs.get(job_id)
        if found is None:
            raise NotFound(f"No indexing job '{job_id}' (the server keeps the last {KEEP_FINISHED_JOBS} finished).",
                           "Use the id returned by the upload or removal.")
        return found

    def wait(self, job: Job, timeout: float | None = None) -> Job:
        job.ended.wait(timeout)
        return job

    def close(self) -> None:
        self._worker.shutdown(wait=True, cancel_futures=True)
        if self._uploads_claim is not None:
            os.close(self._uploads_claim)  # releases the claim
            self._uploads_claim = None

    def _find_file(self, ref: str) -> tuple[str, dict]:
        files = self._assistant.index.manifest["files"]
        found = [(key, record) for key, record in files.items()
                 if ref in (record["source"], Path(key).name) or any(a["id"] == ref for a in record["articles"])]
        # An upload named like a file of the corpus ("a.txt" in both): the upload is the one the API manages.
        found.sort(key=lambda item: Path(item[0]).parent != self.uploads.resolve())
        if found:
            return found[0]
        raise NotFound(f"No indexed article or file '{ref}'.", "See GET /api/articles for ids and files.")

    def _job_list(self) -> list[Job]:
        with self._jobs_lock:
            return list(self._jobs.values())

    def _submit(self, job: Job, change: Callable[[], FileChange]) -> Job:
        with self._jobs_lock:
            self._jobs[job.id] = job
        self._worker.submit(self._run, job, change)
        return job

    def _run(self, job: Job, change_files: Callable[[], FileChange]) -> None:
        """Change the uploads folder, then index the corpus; undo the file change if that fails."""
        change = None
        try:
            job.state = "indexing"
            change = change_files()
            if not change.nothing_to_do:
                self._reindex(job)
            change.keep()
            job.state, job.message = "done", change.nothing_to_do or self._done_message(job)
        except Exception as err:  # the job reports any failure; the server keeps serving
            if change:
                change.undo()
            job.state = "failed"
            job.message = str(err) if isinstance(err, DalilError) else f"{type(err).__name__}: {err}"
        finally:
            job.finished_at = time.time()
            job.ended.set()
            self._forget_old_jobs()

    def _place(self, job: Job, incoming: Path) -> FileChange:
        """Give a checked upload its name, unless a file with the same bytes is indexed already."""
        digest = sha256_of(incoming)
        for record in self._assistant.index.manifest["files"].values():
            if record["sha256"] == digest:
                incoming.unlink()
                same = f"'{job.file}' is indexed already with this text" if record["source"] == job.file else \
                    f"'{job.file}' holds the same text as '{record['source']}', which is indexed already"
                return FileChange(self.uploads / job.file, nothing_to_do=f"{same}: nothing changed.")
        path, parked = place_upload(incoming, job.file, self.uploads / f"{REPLACED}{job.id}-{job.file}")
        return FileChange(path, parked=parked, new=parked is None)

    def _park(self, job: Job, path: Path) -> FileChange:
        parked = path.with_name(f"{REMOVING}{job.id}-{path.name}")
        path.rename(parked)
        return FileChange(path, parked=parked)

    def _forget_old_jobs(self) -> None:
        with self._jobs_lock:
            finished = sorted((j for j in self._jobs.values() if j.finished), key=lambda j: j.finished_at or 0)
            for old in finished[:-KEEP_FINISHED_JOBS]:
                del self._jobs[old.id]

    def _reindex(self, job: Job) -> None:
        def progress(done: int, total: int) -> None:
            job.done, job.total = done, total

        current = self._assistant
        # As the index was built: an index in Milvus stays there (uploads once dropped it back to FAISS alone).
        build_index(self._corpus_paths(), self.settings.index_dir, current.embedder, progress=progress,
                    deep_embedder=current.deep_embedder, deep_progress=progress,
                    milvus_uri=milvus_uri(current.settings, current.index.manifest))
        # One assignment swaps the index: a question in flight finishes on the Assistant it started with.
        self._assistant = Assistant(load_index(self.settings.index_dir), current.embedder, current.settings,
                                    current.deep_embedder)
        self._seen = self._published()

    def _published(self) -> str | None:
        """The generation ``current`` points at now (one readlink)."""
        try:
            return os.readlink(self.settings.index_dir / CURRENT)
        except OSError:
            return None

    def _follow_published(self) -> None:
        """Queue loading a generation that another process published since ours was loaded."""
        if not self._following and self._published() not in (None, self._seen):
            self._following = True
            self._worker.submit(self._load_published)

    def _load_published(self) -> None:
        published = self._published()
        try:
            current = self._assistant
            index = load_index(self.settings.index_dir)
            deep = index.manifest.get("deep")
            deep_embedder = current.deep_embedder
            if deep and (deep_embedder is None or deep_embedder.model_name != deep["id"]):
                from assistant.qa import model_name_for

                deep_embedder = load_embedder(model_name_for(deep["id"]))
            self._assistant = Assistant(index, current.embedder, current.settings, deep_embedder)
        except Exception as err:  # a damaged or mismatched generation: keep serving the loaded one
            log.warning("dalil: not loading the newly published index: %s", err)
        finally:
            self._seen = published
            self._following = False

    def _corpus_paths(self) -> list[Path]:
        """The paths the index was built from, plus the uploads folder while it holds any article."""
        uploads = self.uploads.resolve()
        paths = [Path(p) for p in self._assistant.index.manifest["paths"] if Path(p).resolve() != uploads]
        if any(p.is_file() and not p.name.startswith(".") for p in uploads.glob("*")):
            paths.append(uploads)
        if not paths:
            raise ArticleError("That would leave the index empty.", "Upload another article first.")
        return paths

    def _done_message(self, job: Job) -> str:
        counts = self._assistant.index.manifest["counts"]
        verb = "Added" if job.action == "add" else "Removed"
        return f"{verb} {job.file}. The index now holds {counts['articles']} articles, {counts['passages']} passages."


def _stamp(folder: Path) -> tuple:
    """Name, size, mtime and inode of every file in ``folder``: any rewrite of a file changes it."""
    stats = [(str(path), path.stat()) for path in sorted(folder.rglob("*"))]
    return tuple((name, st.st_size, st.st_mtime_ns, st.st_ino) for name, st in stats)


def claim_uploads(folder: Path) -> int | None:
    """Hold the uploads folder for this server while it runs: the descriptor of an flock on ``CLAIM`` in it
    (gone with the process), or None when the folder cannot be made or another live server holds it.

    Only the holder tidies the folder at start: a second `dalil serve` on the same index (even one that then
    failed to bind its port) deleted the uploads the first had accepted and not yet placed.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / CLAIM, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:  # read-only, or a file of that name: uploads will say so when one comes
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        log.warning("Another server (pid %s) manages the uploads in %s: its unfinished uploads are left to it.",
                    holder, folder)
        return None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return fd


def recover_uploads(folder: Path) -> None:
    """Tidy what a server killed in the middle of a job left in the uploads folder.

    A removal that never finished is undone (its job was never reported done); the earlier version of a
    replaced file and checked uploads still waiting for the worker are dropped.
    """
    if not folder.is_dir():
        return
    for path in folder.glob(f"{REMOVING}*"):
        os.replace(path, path.with_name(path.name[len(REMOVING) + 13:]))  # the job id is 12 characters and "-"
    for path in [*folder.glob(f"{INCOMING}*"), *folder.glob(f"{REPLACED}*")]:
        path.unlink(missing_ok=True)
