"""The chat when an LLM writes the answers: text streams into the conversation, and a follow-up question is
rewritten with the earlier turns before retrieval (the rewritten question is shown above the answer)."""

import uuid
from collections.abc import Iterator

import gradio as gr

from index.errors import DalilError
from ui import render
from ui.library import Library
from ui.stream import events

Turns = list[tuple[str, str]]  # (question as searched, answer text), oldest first: the rewrite's context


def respond_stream(library: Library, question: str, history: list[dict],
                   turns: Turns) -> Iterator[tuple[str, list[dict], Turns]]:
    """Yield the conversation as the answer is written: partial text, then the answer with its passages."""
    history, turns = list(history or []), list(turns or [])
    if not (question or "").strip():
        gr.Warning("Type a question first, in English or Arabic.")
        yield "", history, turns
        return
    history.append({"role": "user", "content": render.question_html(question)})
    history.append({"role": "assistant", "content": render.streaming_html("")})
    yield "", history, turns
    written, searched = "", None
    try:
        for event in events(library, question, history=turns):
            if event.kind == "question":
                searched = event.text
            elif event.kind == "delta":
                written += event.text
            elif event.answer is not None:
                answer = event.answer
                history[-1] = {"role": "assistant", "content": render.answer_html(answer, key=uuid.uuid4().hex[:8])}
                turns.append((answer.rewritten_question or question.strip(), answer.answer))
                yield "", history, turns
                return
            history[-1] = {"role": "assistant", "content": render.streaming_html(written, searched)}
            yield "", history, turns
    except DalilError as err:  # the question stays in the box, to be shortened or corrected
        history[-1] = {"role": "assistant", "content": render.error_html(str(err))}
        yield question, history, turns
