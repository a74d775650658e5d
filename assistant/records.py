"""The records every surface shows or scores: a retrieval Hit, a Citation and the Answer."""

import re
from dataclasses import asdict, dataclass, field

from index.records import Chunk

MARKER = re.compile(r"\[(\d+)\]")


@dataclass(frozen=True)
class Hit:
    """A passage found for a question, with the scores that ranked it."""

    chunk: Chunk
    score: float  # fused score: what the ranking uses
    dense: float  # cosine similarity of question and passage
    lexical: float  # BM25 score (0 when no question word occurs in the passage)
    row: int = -1  # the passage's position in the index (its vector row), when it came from one


@dataclass(frozen=True)
class Citation:
    """Numbered evidence: a passage and the span of the sentence in it that supports the answer."""

    n: int
    source: str
    title: str
    text: str  # the whole passage, as in the article
    start: int  # the cited sentence is text[start:end]
    end: int
    score: float
    article_id: str = ""
    metadata: dict = field(default_factory=dict)  # date, url, source ... of the article when known

    @property
    def sentence(self) -> str:
        return self.text[self.start:self.end]

    @classmethod
    def from_chunk(cls, n: int, chunk: Chunk, span: tuple[int, int], score: float) -> "Citation":
        return cls(n=n, source=chunk.source, title=chunk.title, text=chunk.text, start=span[0], end=span[1],
                   score=round(float(score), 4), article_id=chunk.article_id, metadata=dict(chunk.metadata))


@dataclass
class Answer:
    """An answer: text with ``[n]`` markers, the citations they refer to, and how it was made."""

    question: str
    answer: str
    abstained: bool
    citations: list[Citation]
    timings_ms: dict[str, float] = field(default_factory=dict)
    # The ranked passages retrieval returned (the evaluator scores these; not part of the JSON).
    hits: list[Hit] = field(default_factory=list, repr=False)
    # Set only when an LLM is configured (assistant/generation.py); absent from the JSON otherwise.
    llm: str | None = None  # the model asked, e.g. "ollama:qwen2.5:3b"
    generated: bool = False  # the text was written by the LLM (False: the extractive answer)
    notice: str | None = None  # one line on why the LLM's answer was not used or was changed
    rewritten_question: str | None = None  # a follow-up rewritten with the conversation, as searched

    def markers(self) -> list[int]:
        return [int(n) for n in MARKER.findall(self.answer)]

    def to_json(self) -> dict:
        """The object `dalil ask --json`, the HTTP API and the UI share."""
        return {
            "question": self.question,
            "answer": self.answer,
            "abstained": self.abstained,
            "citations": [asdict(c) for c in self.citations],
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
            **({"llm": self.llm, "generated": self.generated, "notice": self.notice,
                "rewritten_question": self.rewritten_question} if self.llm else {}),
        }
