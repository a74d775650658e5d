"""The Gradio page: a chat that shows answers with their cited passages, and an Articles tab."""

import time
import uuid
from collections.abc import Iterator
from functools import partial
from html import escape
from pathlib import Path

import gradio as gr

from index.errors import DalilError
from index.loading import SUPPORTED
from ui import render
from ui.chat_stream import respond_stream
from ui.library import Library

EXAMPLES = ["What guarantees did Washington offer Algeria?", "ما هي الضمانات التي قدمتها واشنطن للجزائر؟"]
INTRO = ("**Dalil (دليل)** answers questions about the indexed news articles in English or Arabic, citing the "
         "sentences it used. Click a marker such as [1] to see its passage.")
# Chat events run at most this many at a time (the rest queue); the CPU is the limit, not Gradio.
CHAT_CONCURRENCY = 4
POLL_SECONDS = 0.3


def build_chat(library: Library) -> gr.Blocks:
    """The Blocks app over ``library``: a Chat tab and an Articles tab."""
    with gr.Blocks(title="Dalil", analytics_enabled=False) as demo:
        gr.Markdown(INTRO)
        with gr.Tab("Chat", id="chat"):
            chat_tab(library)
        with gr.Tab("Articles", id="articles"):
            table, choices = articles_tab(library)
        demo.load(lambda: refresh(library), outputs=[table, choices])

        def answer(question: str, k: int = 5) -> dict:
            """Answer a question from the articles: the same object as `POST /api/ask` and `dalil ask --json`."""
            try:
                return library.answer(question, k).to_json()
            except DalilError as err:
                raise gr.Error(str(err)) from None

        gr.api(answer, api_name="answer", concurrency_limit=CHAT_CONCURRENCY)  # for gradio_client
    return demo


def chat_tab(library: Library) -> None:
    # No copy button: a message is the HTML it is shown with (markers, highlights, isolates), and copying gave
    # that markup; selecting the text copies what is read.
    chatbot = gr.Chatbot(label="Dalil", elem_id="dalil-chat", height=620, latex_delimiters=[],
                         feedback_options=None, sanitize_html=True, buttons=[])
    question = gr.Textbox(label="Question", placeholder="Ask about the articles, in English or Arabic",
                          elem_id="dalil-question", lines=1, max_lines=4, submit_btn="Ask",
                          max_length=library.settings.max_question_chars)
    gr.Examples(EXAMPLES, inputs=question, label="Examples")
    if library.generator is not None:  # LLM-written answers, streamed, with follow-ups (ui/chat_stream.py)
        turns = gr.State([])
        question.submit(partial(respond_stream, library), [question, chatbot, turns], [question, chatbot, turns],
                        concurrency_limit=CHAT_CONCURRENCY, api_name="ask")
        chatbot.clear(lambda: [], outputs=turns)  # a cleared chat starts a new conversation
        return
    question.submit(lambda q, history: respond(library, q, history), [question, chatbot], [question, chatbot],
                    concurrency_limit=CHAT_CONCURRENCY, api_name="ask")


def respond(library: Library, question: str, history: list[dict]) -> tuple[str, list[dict]]:
    """Append the question and its rendered answer (or a clear message) to the conversation."""
    history = list(history or [])
    if not (question or "").strip():
        gr.Warning("Type a question first, in English or Arabic.")
        return "", history
    history.append({"role": "user", "content": render.question_html(question)})
    try:
        answer = library.answer(question)
    except DalilError as err:  # the question stays in the box, to be shortened or corrected
        history.append({"role": "assistant", "content": render.error_html(str(err))})
        return question, history
    history.append({"role": "assistant", "content": render.answer_html(answer, key=uuid.uuid4().hex[:8])})
    return "", history


def articles_tab(library: Library) -> tuple[gr.HTML, gr.Dropdown]:
    table = gr.HTML(elem_id="dalil-articles")
    with gr.Row():
        upload = gr.File(label=f"Upload an article ({' '.join(SUPPORTED)})", file_types=list(SUPPORTED),
                         file_count="single", elem_id="dalil-upload")
        with gr.Column():
            choices = gr.Dropdown(label="Uploaded file to remove", choices=[], elem_id="dalil-remove-choice")
            remove = gr.Button("Remove from the index", variant="stop", elem_id="dalil-remove")
    status = gr.HTML(elem_id="dalil-status")
    # partial, not lambda: Gradio streams a handler's updates only when it can see it is a generator function.
    upload.upload(partial(add_file, library), upload, [status, table, choices], api_name="upload")
    remove.click(partial(remove_file, library), choices, [status, table, choices], api_name="remove")
    return table, choices


def refresh(library: Library) -> tuple[str, gr.Dropdown]:
    """The article table and the list of removable (uploaded) files, as the index is now."""
    rows = library.articles()
    uploaded = sorted({row["source"] for row in rows if row["uploaded"]})
    return render.articles_html(rows), gr.Dropdown(choices=uploaded, value=None)


def add_file(library: Library, path: str | None) -> Iterator[tuple]:
    """Store and index an uploaded file, showing progress until the new index is in use."""
    if not path:
        return
    try:
        job = library.add(Path(path).name, Path(path).read_bytes())
    except DalilError as err:
        yield (status_html(f"Not added: {err}", "failed"), *refresh(library))
        return
    yield from follow(library, job)


def remove_file(library: Library, ref: str | None) -> Iterator[tuple]:
    if not ref:
        yield (status_html("Choose an uploaded file to remove.", "failed"), *refresh(library))
        return
    try:
        job = library.remove(ref)
    except DalilError as err:
        yield (status_html(f"Not removed: {err}", "failed"), *refresh(library))
        return
    yield from follow(library, job)


def follow(library: Library, job) -> Iterator[tuple]:
    """Yield the job's progress every ``POLL_SECONDS`` until it is done, then the refreshed lists."""
    while not job.finished:
        yield status_html(progress_text(job), "indexing", job.done, job.total), gr.skip(), gr.skip()
        time.sleep(POLL_SECONDS)
    yield (status_html(job.message, job.state), *refresh(library))


def progress_text(job) -> str:
    verb = "Indexing" if job.action == "add" else "Removing"
    if job.total:
        return f"{verb} {job.file}: {job.done} of {job.total} texts embedded…"
    return f"{verb} {job.file}…"


def status_html(message: str, state: str, done: int = 0, total: int = 0) -> str:
    bar = f'<progress value="{done}" max="{total}"></progress> ' if state == "indexing" and total else ""
    # Left to right: the messages are English sentences, and one opening with a quoted Arabic file name was laid
    # out right to left ("auto") and read scrambled.
    message = escape(message).replace("\n", "<br>")  # no isolates: Arabic names sit in an English line here
    return f'<div class="dalil-status {state}" dir="ltr" data-state="{state}">{bar}{message}</div>'
