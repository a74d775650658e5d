"""Streamed answers: the events of one answer, for the chat and as server-sent events (``POST /api/ask?stream=true``).

    event: question   data: {"rewritten_question": "..."}       a follow-up, as rewritten and searched
    event: delta      data: {"text": "..."}                     text to append (markers already complete)
    event: final      data: {the /api/ask object}               the answer and its citations; authoritative
    event: error      data: {"error": "...", "type": "..."}     a failure after the stream began

With no LLM configured the stream is one delta (the extractive answer) and the final event.
"""

import json
from collections.abc import Iterable, Iterator

from fastapi.responses import StreamingResponse

from assistant.generation import Events
from index.errors import DalilError
from ui.library import Library


def events(library: Library, question: str, k: int | None = None,
           history: Iterable[tuple[str, str]] = ()) -> Events:
    """The events of one answer from the library's current index (and its LLM, if any).

    The question is checked before the first event, so a bad one raises ``QuestionError`` at once.
    """
    return library.stream(question, k, list(history))


def sse_response(library: Library, question: str, k: int | None,
                 history: Iterable[tuple[str, str]] = ()) -> StreamingResponse:
    """A ``text/event-stream`` reply; a bad question raises before it starts (a JSON 400, as without stream)."""
    stream = events(library, question, k, list(history))
    return StreamingResponse(_encoded(stream), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _encoded(stream: Events) -> Iterator[str]:
    try:
        for event in stream:
            if event.kind == "question":
                yield sse("question", {"rewritten_question": event.text})
            elif event.kind == "delta":
                yield sse("delta", {"text": event.text})
            elif event.answer is not None:
                yield sse("final", event.answer.to_json())
    except DalilError as err:  # the status line is sent already: the error is the last event
        yield sse("error", {"error": str(err), "type": type(err).__name__})


def sse(kind: str, data: dict) -> str:
    """One server-sent event (JSON data on one line)."""
    return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
