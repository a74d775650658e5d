"""Generated answers on top of the Assistant: retrieval and the extractive answer first, then an LLM writes
from the numbered passages, streamed, with its citations checked and tied to sentences.

Whatever goes wrong with the LLM (unreachable, too slow, no valid citation, wrong language) the person gets
the extractive answer, which is always computed first, with a one-line ``notice`` saying why.
"""

import queue
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace

from assistant import answering, grounding, prompts
from assistant.grounding import MarkerFilter
from assistant.llm import LLMSpec, llm_spec, make_llm
from assistant.qa import Assistant
from assistant.records import Answer, Citation, Hit
from assistant.settings import Settings
from index.errors import LLMError, LLMTimeout
from index.normalise import is_arabic

PROMPT_PASSAGES = 5  # passages numbered in the prompt (the extractive answer reads the same top 5)
# Letters of answer read before a wrong-language answer is stopped early (an Arabic answer may open with a
# Latin name); the whole answer is checked again at the end.
EARLY_LANGUAGE_LETTERS = 80
SHOWN = "the extracted answer is shown instead."
NOTICE_NO_MARKERS = f"The model's answer cited none of the passages, so {SHOWN}"
NOTICE_INVENTED = "The model cited only passages that were not retrieved ({numbers}), so " + SHOWN
NOTICE_EMPTY = f"The model gave an empty answer, so {SHOWN}"
NOTICE_LANGUAGE = "The model did not answer in {language}, the question's language, so " + SHOWN
NOTICE_REMOVED = "Removed {numbers}: the model cited passages that were not retrieved."
History = Iterable[tuple[str, str]]  # (question, answer text) turns, oldest first


@dataclass(frozen=True)
class Event:
    """One step of a streamed answer."""

    kind: str  # "question": the follow-up as rewritten and searched; "delta": text to append; "final"
    text: str = ""
    answer: Answer | None = None  # with "final": the answer, authoritative (it may replace the streamed text)


Events = Iterator[Event]  # a streamed answer: ("question"), "delta"..., "final"


class Generator:
    """Writes answers with an LLM from what an ``Assistant`` retrieved.

    Args:
        llm: a llama-index LLM (``stream_chat`` is all that is used).
        label: how answers name the model, e.g. "ollama:qwen2.5:3b".
        timeout: seconds the LLM has for one call (the rewrite, or the whole streamed answer).
        where: the server, for notices ("The LLM at URL could not be reached").
    """

    def __init__(self, llm: object, label: str, timeout: float, where: str = "") -> None:
        self.llm, self.label, self.timeout, self.where = llm, label, timeout, where

    @classmethod
    def from_settings(cls, settings: Settings) -> "Generator | None":
        """The generator the settings configure, or None for extractive answers (nothing is imported then)."""
        spec: LLMSpec | None = llm_spec(settings)
        if spec is None:
            return None
        return cls(make_llm(spec), spec.label, spec.timeout, spec.url)

    def answer(self, assistant: Assistant, question: str, k: int | None = None, history: History = ()) -> Answer:
        """The final answer of ``stream`` (same arguments)."""
        final = None
        for event in self.stream(assistant, question, k, history):
            final = event.answer or final
        assert final is not None  # stream always ends with a final event
        return final

    def stream(self, assistant: Assistant, question: str, k: int | None = None,
               history: History = ()) -> Events:
        """Answer ``question``: the rewritten question (if any), text deltas, then the final answer.

        Args:
            assistant: the ``Assistant`` whose ``answer`` retrieves and gives the extractive fallback.
            question: as asked; a ``QuestionError`` is raised before anything is yielded when it is unusable.
            k: passages retrieved (the prompt gets the best ``PROMPT_PASSAGES``).
            history: earlier (question, answer) turns; with any, the question is first rewritten to stand alone.
        """
        question = assistant.check_question(question)
        started = time.perf_counter()
        timings: dict[str, float] = {}
        searched = question
        if history := list(history):
            try:
                searched = self.rewrite(question, history, assistant.settings.max_question_chars)
            except LLMError as err:
                yield self._final(self._fallback(assistant.answer(question, k), _failed(err), None), started, timings)
                return
            timings["rewrite_ms"] = _ms_since(started)
            if searched != question:
                yield Event("question", searched)
        rewritten = searched if searched != question else None
        extractive = replace(assistant.answer(searched, k), question=question)
        hits = extractive.hits[:PROMPT_PASSAGES]
        arabic = is_arabic(question)
        markers = MarkerFilter(len(hits))
        asked = time.perf_counter()
        try:
            for delta in self._deltas(prompts.answer_messages(searched, [h.chunk for h in hits], arabic)):
                if delta:  # servers often open with an empty, role-only chunk
                    timings.setdefault("first_token_ms", _ms_since(asked))
                if shown := markers.feed(delta):
                    yield Event("delta", shown)
                if grounding.wrong_language(markers.raw, arabic, EARLY_LANGUAGE_LETTERS):
                    break  # judged below, with the whole text so far
            if tail := markers.finish():
                yield Event("delta", tail)
        except LLMError as err:
            yield self._final(self._fallback(extractive, _failed(err), rewritten), started, timings)
            return
        timings["generate_ms"] = _ms_since(asked)
        answer = self._ground(assistant, extractive, markers, hits, searched, arabic)
        yield self._final(replace(answer, rewritten_question=rewritten), started, timings)

    def rewrite(self, question: str, history: list[tuple[str, str]], max_chars: int) -> str:
        """``question`` rewritten to stand on its own given the conversation; itself when the reply is unusable."""
        reply = "".join(self._deltas(prompts.rewrite_messages(question, history)))
        line = next((line.strip() for line in reply.splitlines() if line.strip()), "")
        line = re.sub(r"^(?:rewritten|standalone)?\s*question\s*:\s*|^السؤال\s*:\s*", "", line, flags=re.IGNORECASE)
        line = grounding.spoken(line).strip(" \"'«»“”`")  # a question carries no citation markers
        return line if 0 < len(line) <= max_chars else question

    def _ground(self, assistant: Assistant, extractive: Answer, markers: MarkerFilter, hits: list[Hit],
                searched: str, arabic: bool) -> Answer:
        """The checked answer, or the extractive one with a notice when the model's cannot be used."""
        text = grounding.tidy(markers.text)
        if not markers.order:
            if grounding.says_not_found(markers.raw, list(prompts.NOT_FOUND.values())):
                return self._not_found(assistant, extractive, hits, searched, arabic)
            if markers.invented:
                return self._fallback(extractive, NOTICE_INVENTED.format(numbers=_listed(markers.invented)), None)
            return self._fallback(extractive, NOTICE_NO_MARKERS if text else NOTICE_EMPTY, None)
        if grounding.wrong_language(text, arabic):
            return self._fallback(extractive, NOTICE_LANGUAGE.format(language="Arabic" if arabic else "English"),
                                  None)
        citations = grounding.supporting_citations(grounding.claims(text), markers.order, hits, assistant)
        notice = NOTICE_REMOVED.format(numbers=_listed(markers.invented)) if markers.invented else None
        return replace(extractive, answer=text, abstained=False, citations=citations, llm=self.label,
                       generated=True, notice=notice)

    def _not_found(self, assistant: Assistant, extractive: Answer, hits: list[Hit], searched: str,
                   arabic: bool) -> Answer:
        """The model's "the articles do not answer": abstained, listing the closest passages."""
        support = grounding.supporter(searched, assistant)
        closest = [Citation.from_chunk(n, hit.chunk, support(hit).span, hit.score)
                   for n, hit in enumerate(hits[:answering.CLOSEST_PASSAGES], start=1)]
        text = answering.not_found_answer(arabic, [c.n for c in closest])
        return replace(extractive, answer=text, abstained=True, citations=closest, llm=self.label, generated=True)

    def _fallback(self, extractive: Answer, notice: str, rewritten: str | None) -> Answer:
        return replace(extractive, llm=self.label, generated=False, notice=notice, rewritten_question=rewritten)

    def _final(self, answer: Answer, started: float, timings: dict[str, float]) -> Event:
        merged = {**answer.timings_ms, **timings, "total_ms": _ms_since(started)}
        return Event("final", answer=replace(answer, timings_ms=merged))

    def _deltas(self, messages: list) -> Iterator[str]:
        """The LLM's reply to ``messages`` piece by piece, within ``timeout``; failures become ``LLMError``."""

        def produce() -> Iterator[str]:
            for response in self.llm.stream_chat(messages):
                yield response.delta or ""

        return within(produce, self.timeout, self._error)

    def _error(self, err: BaseException) -> LLMError:
        return llm_error(err, self.where or self.label, self.timeout)


def within(produce: Callable[[], Iterator[str]], timeout: float,
           translate: Callable[[BaseException], LLMError]) -> Iterator[str]:
    """Iterate ``produce()`` in a worker thread; raise ``LLMTimeout`` when it has not ended after ``timeout`` s.

    A client's own timeout bounds each network read, not the whole reply (a server sending one token a
    second never trips it); this bounds the whole reply, whatever the client does. The worker is left to
    stop at its next token or its client's own timeout.
    """
    pieces: queue.Queue = queue.Queue()
    stop = threading.Event()

    def work() -> None:
        try:
            for piece in produce():
                if stop.is_set():
                    return
                pieces.put(("piece", piece))
            pieces.put(("end", None))
        except Exception as err:  # any client failure is reported to the reader, never raised in the thread
            pieces.put(("error", err))

    threading.Thread(target=work, name="dalil-llm", daemon=True).start()
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                kind, value = pieces.get(timeout=max(deadline - time.monotonic(), 0))
            except queue.Empty:
                raise translate(TimeoutError()) from None
            if kind == "end":
                return
            if kind == "error":
                raise translate(value)
            yield value
    finally:
        stop.set()


def llm_error(err: BaseException, where: str, timeout: float) -> LLMError:
    """A one-line ``LLMError`` for any failure of an LLM client (openai, ollama, httpx)."""
    if isinstance(err, LLMError):
        return err
    name = type(err).__name__
    detail = _detail(err)
    if isinstance(err, TimeoutError) or "Timeout" in name:
        return LLMTimeout(f"The LLM at {where} did not answer within {timeout:g} s.")
    if isinstance(err, ConnectionError) or "Connect" in name:
        return LLMError(f"The LLM at {where} could not be reached ({detail}).")
    status = getattr(err, "status_code", None)
    if status:
        return LLMError(f"The LLM at {where} answered HTTP {status} ({detail}).")
    return LLMError(f"The LLM at {where} failed ({name}: {detail}).")


def _detail(err: BaseException) -> str:
    """The server's own message when it sent one (JSON error body, Ollama's ``error``), else the exception's text;
    HTML tags dropped, on one line, at most 160 characters."""
    body = getattr(err, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        text = inner.get("message", inner) if isinstance(inner, dict) else inner
    else:
        text = getattr(err, "error", None) or str(err)
    return " ".join(re.sub(r"<[^>]+>", " ", str(text)).split())[:160] or type(err).__name__


class GeneratingAssistant:
    """An ``Assistant`` whose ``answer`` is generated: what `dalil eval --llm` measures. Everything else is
    the wrapped assistant's."""

    def __init__(self, assistant: Assistant, generator: Generator) -> None:
        self.assistant, self.generator = assistant, generator

    def answer(self, question: str, k: int | None = None) -> Answer:
        return self.generator.answer(self.assistant, question, k)

    def __getattr__(self, name: str) -> object:
        return getattr(self.assistant, name)


def _failed(err: LLMError) -> str:
    return f"{err} The extracted answer is shown instead."


def _listed(numbers: list[int]) -> str:
    return ", ".join(f"[{n}]" for n in dict.fromkeys(numbers))


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000
