"""One web app: the JSON API under /api, OpenAPI at /docs, and the Gradio chat at /, over one Library."""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

# Before gradio is imported (it reads these once): no analytics, no version check, no hub calls.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"

import gradio as gr  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from fastapi.middleware.cors import CORSMiddleware  # noqa: E402

from assistant.generation import Generator  # noqa: E402
from assistant.indexing import progress_bar  # noqa: E402
from assistant.qa import Assistant  # noqa: E402
from assistant.settings import Settings  # noqa: E402
from ui import render  # noqa: E402
from ui.api import BodyLimit, api_router, install_error_handlers  # noqa: E402
from ui.chat import build_chat  # noqa: E402
from ui.library import Library  # noqa: E402

WARM_UP_QUESTION = "warm-up"


def create_app(source: Assistant | Settings | Library, settings: Settings | None = None) -> FastAPI:
    """The FastAPI app serving ``source`` (an Assistant, a Library, or Settings to open one with).

    Args:
        source: what to answer from. With ``Settings``, the index is opened (or built from the seeds).
        settings: server settings (token, CORS, uploads); default: the assistant's own.
    Returns:
        The app; ``app.state.library`` is the Library it serves.
    """
    library = open_library(source, settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        library.close()  # let a running index update finish: it is written atomically either way

    app = FastAPI(title="Dalil", version="0.1.0", lifespan=lifespan,
                  description="Answers questions about news articles (English, Arabic), citing the sentences used. "
                              "`POST /api/ask` returns the same object as `dalil ask --json`.")
    app.state.library = library
    install_error_handlers(app)
    app.add_middleware(BodyLimit, max_upload_bytes=library.settings.max_upload_bytes)
    # Always installed, even with no origins: Gradio then adds no CORS policy of its own, which would
    # let any web origin call its routes whenever the host is not localhost.
    app.add_middleware(CORSMiddleware, allow_origins=library.settings.cors_origins,
                       allow_methods=["GET", "POST", "DELETE"], allow_headers=["Authorization", "Content-Type"])
    app.include_router(api_router(library))  # before the mount: the Gradio app takes every other path
    return gr.mount_gradio_app(app, build_chat(library), path="", footer_links=["api"],
                               auth=page_auth(library), show_error=False,
                               max_file_size=library.settings.max_upload_bytes,
                               css=render.CSS, head=render.JS_HEAD, ssr_mode=False)


def open_library(source: Assistant | Settings | Library, settings: Settings | None = None) -> Library:
    if isinstance(source, Library):
        return source
    if isinstance(source, Settings):
        source = Assistant.open(source, progress=progress_bar("Indexing the seed articles (first start)", unit="text"))
    # The first answer loads the embedder's weights; do it now rather than under the first users' questions.
    source.answer(WARM_UP_QUESTION)
    library = Library(source, settings or source.settings)
    library.generator = Generator.from_settings(library.settings)
    return library


def page_auth(library: Library):
    """With DALIL_API_TOKEN set, the page asks for it as its password (any user name); else no login."""
    token = library.settings.api_token
    if token is None:
        return None
    import secrets

    return lambda username, password: secrets.compare_digest(str(password).encode(),
                                                             token.get_secret_value().encode())
