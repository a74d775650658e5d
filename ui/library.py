"""The served library: the current Assistant, and index updates (upload, removal) run in the background.

Questions are answered by whichever ``Assistant`` is current. An upload or a removal is indexed by one
worker thread, one job at a time; when the new index generation is written, a new ``Assistant`` over it
(sharing the loaded embedder) replaces the old one in one assignment. Questions asked meanwhile are
answered from the old index; a job that fails leaves the index, and the uploads folder, as they were.
A generation published by another process (`dalil index`, or the next step of its deep layer) is
noticed at the next question and loaded the same way, so answers improve while the deep layer fills.
"""

import logging
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from assistant.generation import Event, Events, Generator
from assistant.qa import Assistant
from assistant.records import Answer
from assistant.settings import Settings
from index.build import build_index
from index.embedding import load_embedder
from index.errors import ArticleError, DalilError
from index.store import CURRENT, load_index
from ui.uploads import accept_upload

log = logging.getLogger(__name__)


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
    done: int = 0  # passages embedded so far
    total: int = 0  # passages to embed
    message: str = ""
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None

    def to_json(self) -> dict:
        return asdict(self)

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")


class Library:
    """What the server serves: answers from the current index, the article list, and updates to it."""

    generator: Generator | None = None  # set when an LLM writes the answers (docs/llm.md); else extractive

    def __init__(self, assistant: Assistant, settings: Settings | None = None) -> None:
        self.settings = settings or assistant.settings
        self._assistant = assistant
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dalil-index")
        self._jobs: dict[str, Job] = {}
        self._events: dict[str, threading.Event] = {}
        self._seen = self._published()  # the generation last loaded (or found damaged and skipped)
        self._following = False  # a load of a newer generation is queued

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
        manifest = self._assistant.index.manifest
        return {"status": "ok", "index_loaded": True, "index_dir": str(self.settings.index_dir),
                "articles": manifest["counts"]["articles"], "passages": manifest["counts"]["passages"],
                "files": len(manifest["files"]), "embedder": manifest["embedder"], "deep": manifest.get("deep"),
                "indexing": any(not job.finished for job in self._jobs.values())}

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
        """Store an uploaded file (refusing bad ones at once) and queue indexing it."""
        path, _ = accept_upload(self.uploads, filename, data, self.settings.max_upload_bytes)
        return self._submit(Job(id=uuid.uuid4().hex[:12], action="add", file=path.name), path)

    def remove(self, ref: str) -> Job:
        """Queue removing the uploaded file named ``ref``, or holding the article with id ``ref``."""
        key, record = self._find_file(ref)
        path = Path(key)
        if path.parent != self.uploads.resolve():
            raise Refused(f"'{record['source']}' was not uploaded here, so the server will not remove it.",
                          "Remove it from its folder and run `dalil index`, or upload articles to manage them here.")
        if len(self._assistant.index.manifest["files"]) == 1:
            raise Refused(f"'{record['source']}' is the only indexed file.", "Upload another article first.")
        return self._submit(Job(id=uuid.uuid4().hex[:12], action="remove", file=record["source"]), path)

    def job(self, job_id: str) -> Job:
        if job_id not in self._jobs:
            raise NotFound(f"No indexing job '{job_id}'.", "Use the id returned by the upload or removal.")
        return self._jobs[job_id]

    def wait(self, job: Job, timeout: float | None = None) -> Job:
        self._events[job.id].wait(timeout)
        return job

    def close(self) -> None:
        self._worker.shutdown(wait=True, cancel_futures=True)

    def _find_file(self, ref: str) -> tuple[str, dict]:
        files = self._assistant.index.manifest["files"]
        for key, record in files.items():
            if ref in (record["source"], Path(key).name) or any(a["id"] == ref for a in record["articles"]):
                return key, record
        raise NotFound(f"No indexed article or file '{ref}'.", "See GET /api/articles for ids and files.")

    def _submit(self, job: Job, path: Path) -> Job:
        self._jobs[job.id] = job
        self._events[job.id] = threading.Event()
        self._worker.submit(self._run, job, path)
        return job

    def _run(self, job: Job, path: Path) -> None:
        """Index the corpus with ``path`` added or taken out; undo the file change if that fails."""
        parked = path.with_name(f".removing-{job.id}-{path.name}")  # hidden: the indexer skips it
        try:
            job.state = "indexing"
            if job.action == "remove":
                path.rename(parked)
            self._reindex(job)
            if job.action == "remove":
                parked.unlink()
            job.state, job.message = "done", self._done_message(job)
        except Exception as err:  # the job reports any failure; the server keeps serving
            if job.action == "add":
                path.unlink(missing_ok=True)
            elif parked.exists():
                parked.rename(path)
            job.state = "failed"
            job.message = str(err) if isinstance(err, DalilError) else f"{type(err).__name__}: {err}"
        finally:
            job.finished_at = time.time()
            self._events[job.id].set()

    def _reindex(self, job: Job) -> None:
        def progress(done: int, total: int) -> None:
            job.done, job.total = done, total

        current = self._assistant
        build_index(self._corpus_paths(), self.settings.index_dir, current.embedder, progress=progress,
                    deep_embedder=current.deep_embedder, deep_progress=progress)
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
