"""The assistant: one ``answer(question)`` that every surface (CLI, web, API, evaluation) calls."""

import functools
import time
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from assistant import answering, evidence
from assistant.answering import Candidate
from assistant.records import Answer, Hit
from assistant.retrieval import DeepVector, HybridRetriever, resolved
from assistant.settings import Settings
from index.build import Progress, build_index
from index.embedding import DEFAULT_EMBEDDER, DalilEmbedding, cpu_count, embedder_id, load_embedder, one_blas_thread
from index.errors import IndexMismatch, IndexMissing, QuestionError
from index.lexical import question_tokens, tokenise
from index.normalise import is_arabic
from index.store import PassageIndex, load_index, read_manifest

# The deep layer of a new index (assistant/retrieval.py: e5 finds the right passage far more often).
DEFAULT_DEEP_MODEL = "e5"

NOT_FOUND = f"{answering.NOT_FOUND['en']} {answering.CLOSEST_LABEL['en']}"  # an English question's abstention


class Assistant:
    """Answers questions from one loaded index with its embedder."""

    def __init__(self, index: PassageIndex, embedder: DalilEmbedding, settings: Settings | None = None,
                 deep_embedder: DalilEmbedding | None = None) -> None:
        self.index = index
        self.embedder = embedder
        # The deep layer's encoder, when the index has one (index/deep.py); it embeds each question once more.
        self.deep_embedder = deep_embedder if index.deep is not None else None
        self.settings = settings or Settings()
        self.retriever = HybridRetriever(index, embedder, top_k=self.settings.top_k)
        one_blas_thread()

    @classmethod
    def open(cls, settings: Settings, progress: Progress | None = None) -> "Assistant":
        """Load the index in ``settings.index_dir``; with none there yet, build one from the seeds."""
        index_dir = settings.index_dir
        try:
            manifest = read_manifest(index_dir)
        except IndexMissing:
            if not settings.seeds_dir.is_dir():
                raise
            embedder = load_embedder(settings.embed_model or DEFAULT_EMBEDDER)
            deep_embedder = load_deep_embedder(deep_model_for(settings, None))
            build_index([settings.seeds_dir], index_dir, embedder, progress=progress, deep_embedder=deep_embedder,
                        deep_progress=progress)
            return cls(load_index(index_dir), embedder, settings, deep_embedder)
        built_with = manifest["embedder"]["id"]
        if settings.embed_model and embedder_id(settings.embed_model) != built_with:
            raise IndexMismatch(
                f"The index at {index_dir} was built with embedder '{built_with}', "
                f"but '{embedder_id(settings.embed_model)}' was asked for.",
                "Leave out --embed-model to use the index's own, or rebuild with `dalil index --rebuild`.")
        deep = manifest.get("deep")
        deep_embedder = load_embedder(model_name_for(deep["id"])) if deep else None
        return cls(load_index(index_dir), load_embedder(model_name_for(built_with)), settings, deep_embedder)

    def answer(self, question: str, k: int | None = None) -> Answer:
        """Answer ``question`` from the articles, citing the sentences used, or abstain."""
        question = self.check_question(question)
        k = k or self.settings.top_k
        started = time.perf_counter()
        # The deep encoder first, in a worker thread: the fast encoder, the dense search and BM25 run while it
        # embeds (so embed_ms is the fast encoder's; waiting for the deep one counts in retrieve_ms).
        deep_vector = self._embed_deep(question)
        query_vector = self.embedder.embed_query(question)
        timings = {"embed_ms": _ms_since(started)}
        hits, ranked, chosen = self.select(question, k, query_vector, timings, deep_vector)
        if evidence.is_supported(question, chosen, self.similarity_model(chosen)):
            text, citations = answering.compose(chosen)
            abstained = False
        else:
            citations = answering.closest_passages(hits, ranked, min(answering.CLOSEST_PASSAGES, k))
            text = answering.not_found_answer(is_arabic(question), [c.n for c in citations])
            abstained = True
        timings["total_ms"] = _ms_since(started)
        timings["answer_ms"] = timings["total_ms"] - timings["embed_ms"] - timings["retrieve_ms"]
        return Answer(question, text, abstained, citations, timings, hits=hits[:k])

    def embed(self, text: str) -> tuple[np.ndarray, np.ndarray | None]:
        """``text`` as a query for the fast encoder, and for the deep layer's encoder when there is one.

        The two run at once, the deep one in a worker thread: both release the GIL for their matrix products
        (e5 inside ONNX Runtime); ``answer`` also runs the fast search while e5 embeds: 16.9 ms a whole answer at
        20k articles against 20.2 ms with e5 on both cores first (benchmarks/scale/query_threads.py, docs/scaling.md).
        """
        deep = self._embed_deep(text)
        return self.embedder.embed_query(text), resolved(deep)

    def _embed_deep(self, text: str) -> Future | None:
        """``text`` being embedded as a query by the deep layer's encoder, in a worker thread."""
        return None if self.deep_embedder is None else _query_threads().submit(self.deep_embedder.embed_query, text)

    def similarity_model(self, chosen: list[Candidate]) -> str:
        """The encoder whose cosine the chosen sentences carry (the abstention threshold is per encoder)."""
        if chosen and chosen[0].deep_scored and self.deep_embedder is not None:
            return self.deep_embedder.model_name
        return self.embedder.model_name

    def select(self, question: str, k: int, query_vector: np.ndarray, timings: dict[str, float] | None = None,
               deep_vector: DeepVector = None) -> tuple[list[Hit], list[Candidate], list[Candidate]]:
        """Retrieval, reranking and sentence choice, before the decision to answer: ``(hits, ranked, chosen)``.

        ``answer`` builds on this; benchmarks/calibrate_abstention.py reads the same candidates, so the
        threshold is calibrated on exactly what ``answer`` decides on.
        """
        started = time.perf_counter()
        hits = self.retriever.search(question, k=max(k, answering.ANSWER_PASSAGES), query_vector=query_vector,
                                     deep_vector=deep_vector)
        if timings is not None:
            timings["retrieve_ms"] = _ms_since(started)
        deep_vector = resolved(deep_vector)
        coverage = self.index.lexical.coverage(tokenise(question))
        matching = self.index.lexical.coverage(question_tokens(question))
        ranked = answering.rank_sentences(question, hits, self.embedder, query_vector, coverage,
                                          self.index.deep, deep_vector, self.index.sentences, matching)
        hits = answering.rerank(hits, ranked)
        return hits, ranked, answering.choose_sentences(ranked)

    def check_question(self, question: str) -> str:
        """The question stripped, or a ``QuestionError`` saying what is wrong with it."""
        if isinstance(question, str) and not question.isprintable() and any("\ud800" <= ch <= "\udfff"
                                                                         for ch in question):
            # A lone surrogate (from a JSON escape or undecodable argv bytes) is not text: no reply could carry it.
            raise QuestionError("The question holds a lone surrogate (U+D800 to U+DFFF), which is not valid text.",
                                "Send the question as UTF-8 text.")
        # Nothing visible (only spaces, control characters such as NUL, or invisible marks) is empty too.
        if not isinstance(question, str) or not any(ch.isprintable() and not ch.isspace() for ch in question):
            raise QuestionError("The question is empty.", "Ask a question in English or Arabic.")
        question = question.strip()
        limit = self.settings.max_question_chars
        if len(question) > limit:
            raise QuestionError(f"The question is {len(question):,} characters long; the limit is {limit:,}.",
                                "Ask a shorter question.")
        return question


def deep_model_for(settings: Settings, manifest: dict | None) -> str:
    """The deep layer to build: as asked, else the one the index has (an index built without one stays
    without: re-indexing should not start hours of e5 embedding nobody asked for), else e5 for a new index."""
    if settings.deep_model:
        return settings.deep_model
    if manifest is None:
        return DEFAULT_DEEP_MODEL
    deep = manifest.get("deep")
    return model_name_for(deep["id"]) if deep else "none"


def load_deep_embedder(name: str | None) -> DalilEmbedding | None:
    """The deep layer's encoder for a new index: ``name`` ('e5', a sentence-transformers model), or none."""
    return None if name in (None, "", "none") else load_embedder(name)


def model_name_for(embedder_id_: str) -> str:
    """The --embed-model value that makes the embedder an index records (inverse of ``embedder_id``)."""
    return {"use-m3": "use", "e5-small-q4": "e5"}.get(embedder_id_, embedder_id_.removeprefix("st:"))


@functools.cache
def _query_threads() -> ThreadPoolExecutor:
    """The threads that embed questions with the deep encoder: one pool per process, shared by every
    Assistant (the web app makes a new one each time an upload changes the index)."""
    return ThreadPoolExecutor(cpu_count(), thread_name_prefix="dalil-deep-query")


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000

