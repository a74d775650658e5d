"""Holding an LLM's answer to its passages: citation markers checked as they stream, claims tied to sentences.

The model numbers its citations by the passages it was shown ([1] .. [P]). ``MarkerFilter`` reads the
stream token by token: a marker split across tokens ("[", "1", "]") is held back until it is complete, a
number that names no passage is dropped, and the passages cited are renumbered 1, 2, ... in the order
they are first cited, so the streamed text is already the final one and its citations are contiguous.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assistant import answering
from assistant.records import Citation, Hit
from index.lexical import tokenise
from index.normalise import normalise

if TYPE_CHECKING:
    from assistant.qa import Assistant

_DIGIT = r"[0-9\u0660-\u0669\u06f0-\u06f9]"  # ASCII, Arabic-Indic and Persian digits: int() reads them all
_JOIN = r"\s*(?:[,،;]|[-–]|and|و)\s*"
# "[2]", "[1, 3]", "[١]", "[2-4]", "[Passage 2]", "[المقطع ٢]": one group of citation numbers.
MARKER_GROUP = re.compile(rf"\[\s*(?:(?:passages?|sources?|المقطع|مقطع|النص)\s*)?({_DIGIT}+(?:{_JOIN}{_DIGIT}+)*)\s*\]",
                          re.IGNORECASE)
_MAYBE_MARKER = re.compile(r"\[[\s\w,،;\-–]*")  # what a marker can look like before its "]" arrives
HOLD_LIMIT = 40  # an unclosed "[" longer than this is text, not a marker
WIDE_BRACKETS = str.maketrans("【［】］", "[[]]")  # some models cite as 【1】 or ［1］
MAX_RANGE = 10  # "[2-5]" is expanded; a wider range is not a citation
CLEAN_MARKERS = re.compile(r"(?:\[\d+\]\s*)+")
ARABIC_LETTER = re.compile(r"[\u0621-\u064a\u066e-\u06d3\u06fa-\u06ff]")
LATIN_LETTER = re.compile(r"[A-Za-z\u00c0-\u024f]")
MIN_LETTERS = 24  # fewer letters than this: too little to judge the language


class MarkerFilter:
    """Streamed text in, cleaned text out: markers complete, valid and renumbered.

    Args:
        passages: how many passages the model was shown; valid numbers are 1..passages.
    """

    def __init__(self, passages: int) -> None:
        self.passages = passages
        self.raw = ""  # everything the model wrote
        self.text = ""  # everything emitted so far
        self.order: list[int] = []  # passage numbers in the order first cited: display n is index + 1
        self.invented: list[int] = []  # numbers the model used that name no passage
        self._held = ""

    def feed(self, delta: str) -> str:
        """Take the next piece of the stream; return what can be shown now."""
        delta = delta.translate(WIDE_BRACKETS)
        self.raw += delta
        pending, self._held = self._held + delta, ""
        out: list[str] = []
        while pending:
            start = pending.find("[")
            if start < 0:
                out.append(pending)
                break
            out.append(pending[:start])
            pending = pending[start:]
            end = pending.find("]")
            if end < 0:
                if len(pending) <= HOLD_LIMIT and _MAYBE_MARKER.fullmatch(pending):
                    self._held = pending  # the rest of the marker is still to come
                    break
                out.append(pending[0])
                pending = pending[1:]
                continue
            match = MARKER_GROUP.fullmatch(pending[:end + 1])
            if match is None:  # "[" of ordinary text: show it and read on after it
                out.append(pending[0])
                pending = pending[1:]
                continue
            out.append(self._resolve(match.group(1)))
            pending = pending[end + 1:]
        shown = "".join(out)
        self.text += shown
        return shown

    def finish(self) -> str:
        """The end of the stream: anything held back was not a marker after all."""
        rest, self._held = self._held, ""
        self.text += rest
        return rest

    def _resolve(self, numbers: str) -> str:
        cited = []
        for n in _numbers(numbers):
            if not 1 <= n <= self.passages:
                self.invented.append(n)
                continue
            if n not in self.order:
                self.order.append(n)
            shown = self.order.index(n) + 1
            if shown not in cited:
                cited.append(shown)
        return "".join(f"[{n}]" for n in cited)


def _numbers(group: str) -> list[int]:
    """'1, 3' -> [1, 3]; '2-4' -> [2, 3, 4]; '١' -> [1]."""
    numbers: list[int] = []
    for part in re.split(r"\s*(?:[,،;]|and|و)\s*", group.strip(), flags=re.IGNORECASE):
        low, _, high = re.sub(r"\s*[-–]\s*", "-", part).partition("-")
        if not high:
            numbers.append(int(low))
            continue
        first, last = int(low), int(high)
        numbers.extend(range(first, last + 1) if 0 <= last - first <= MAX_RANGE else (first, last))
    return numbers


def tidy(text: str) -> str:
    """The final answer text: no doubled spaces or space before punctuation where a marker was dropped."""
    text = CLEAN_MARKERS.sub(_unique_run, text)
    text = re.sub(r"[ \t]{2,}", " ", text)
    text = re.sub(r" +([.,;:!?،؛؟])", r"\1", text)
    return text.strip()


def _unique_run(run: re.Match) -> str:
    numbers = dict.fromkeys(re.findall(r"\d+", run.group(0)))  # "[2][3][2]" -> "[2][3]"
    space = " " if run.group(0)[-1:].isspace() else ""
    return "".join(f"[{n}]" for n in numbers) + space


def claims(text: str) -> list[tuple[str, list[int]]]:
    """Each stretch of ``text`` before a run of markers, with the marker numbers: (claim, [n, ...]).

    A run of markers with no text of its own before it (after another run) cites for the previous claim.
    """
    found: list[tuple[str, list[int]]] = []
    cut = 0
    for run in CLEAN_MARKERS.finditer(text):
        claim = text[cut:run.start()].strip(" .،,;:")
        numbers = [int(n) for n in re.findall(r"\d+", run.group(0))]
        if claim or not found:
            found.append((claim, numbers))
        else:
            found[-1][1].extend(numbers)
        cut = run.end()
    return found


def spoken(text: str) -> str:
    """``text`` without its markers."""
    return MARKER_GROUP.sub("", text)


def arabic_share(text: str, min_letters: int = MIN_LETTERS) -> float | None:
    """Share of Arabic among the Arabic and Latin letters of ``text``; None when there are too few."""
    arabic, latin = len(ARABIC_LETTER.findall(text)), len(LATIN_LETTER.findall(text))
    if arabic + latin < min_letters:
        return None
    return arabic / (arabic + latin)


def wrong_language(text: str, arabic_question: bool, min_letters: int = MIN_LETTERS) -> bool:
    """Whether ``text`` is mostly in the other script than the question (names in the other script are fine)."""
    share = arabic_share(spoken(text), min_letters)
    if share is None:
        return False
    return share < 0.5 if arabic_question else share > 0.5


def says_not_found(text: str, phrases: list[str]) -> bool:
    """Whether the model gave the fixed "the passages do not answer" phrase (in any of its languages)."""
    said = _plain(spoken(text))
    return any(_plain(phrase) in said for phrase in phrases)


def _plain(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", normalise(text).lower()).split())


@dataclass(frozen=True)
class Support:
    """The sentence of a passage that best supports a claim, and its score."""

    span: tuple[int, int]
    score: float


def supporting_citations(cited: list[tuple[str, list[int]]], order: list[int], hits: list[Hit],
                         assistant: "Assistant") -> list[Citation]:
    """One citation per cited passage, its span on the sentence that best supports the claims citing it.

    Args:
        cited: ``claims(text)``: each claim with the display numbers it cites.
        order: ``MarkerFilter.order``: display number n cites passage ``order[n - 1]`` (1-based).
        hits: the passages the model was shown, in prompt order.
        assistant: the ``Assistant`` (its embedder and index score the sentences, as for extractive answers).
    """
    best: dict[int, Support] = {}
    for claim, numbers in cited:
        support = supporter(claim, assistant)
        for n in numbers:
            found = support(hits[order[n - 1] - 1])
            if n not in best or found.score > best[n].score:
                best[n] = found
    return [Citation.from_chunk(n, hits[order[n - 1] - 1].chunk, best[n].span, best[n].score)
            for n in sorted(best)]


def supporter(claim: str, assistant: "Assistant") -> Callable[[Hit], Support]:
    """A function giving, for a passage, its sentence that best supports ``claim``.

    The extractive answer's own scoring (``answering.rank_sentences``, with the deep layer when the index has
    one), with the claim in the place of the question; the claim is embedded once.
    """
    if not claim.strip():
        return lambda hit: Support(hit.chunk.sentences[0], 0.0)
    embedder, index = assistant.embedder, assistant.index
    vector, deep_vector = assistant.embed(claim)
    coverage = index.lexical.coverage(tokenise(claim))

    def support(hit: Hit) -> Support:
        ranked = answering.rank_sentences(claim, [hit], embedder, vector, coverage, index.deep, deep_vector,
                                          index.sentences)
        return Support(ranked[0].span, ranked[0].score) if ranked else Support(hit.chunk.sentences[0], 0.0)

    return support
