"""The JSON API: each route is one call into the Library; errors are JSON with the right status code."""

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, File, HTTPException, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, StrictInt
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from index.errors import ArticleError, ConfigError, DalilError, IndexError_, InputError, ModelError, QuestionError
from ui.library import Library, NotFound, Refused
from ui.stream import sse_response
from ui.uploads import UnsupportedType, UploadTooLarge, check_size

# Longest request body /api/ask reads; the question limit itself is the assistant's (DALIL settings).
MAX_ASK_BODY_BYTES = 1_000_000
WAIT_SECONDS = 600
Wait = Annotated[bool, Query(description="Reply only once the index is updated (up to 10 minutes).")]
Stream = Annotated[bool, Query(description="Reply with server-sent events: `delta` text as it is written, then "
                                           "`final` with the answer and its citations (docs/llm.md).")]
STATUS = [  # most specific first
    (UploadTooLarge, 413), (UnsupportedType, 415), (ArticleError, 422), (QuestionError, 400),
    (ConfigError, 400), (InputError, 400), (NotFound, 404), (Refused, 409), (IndexError_, 503), (ModelError, 503),
]


class Turn(BaseModel):
    """An earlier question and the answer text it got."""

    model_config = ConfigDict(extra="forbid")
    question: str = Field(max_length=2000)
    answer: str = Field(max_length=20000)


class Question(BaseModel):
    """A question for ``POST /api/ask``."""

    model_config = ConfigDict(extra="forbid")
    question: str = Field(description="The question, in English or Arabic.",
                          examples=["What guarantees did Washington offer Algeria?"])
    k: StrictInt | None = Field(None, ge=1, le=50, description="How many passages to retrieve (default: 5).")
    history: list[Turn] = Field(default_factory=list, max_length=20, description="Earlier turns of the "
                                "conversation, oldest first: with an LLM, a follow-up is rewritten with them.")


def error_body(message: str, kind: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message, "type": kind}, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    """Dalil's errors, bad requests and HTTP errors all become ``{"error": message, "type": kind}``."""

    @app.exception_handler(DalilError)
    async def dalil_error(request: Request, err: DalilError) -> JSONResponse:
        status = next((code for cls, code in STATUS if isinstance(err, cls)), 500)
        return error_body(str(err), type(err).__name__, status)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, err: RequestValidationError) -> JSONResponse:
        content_type = request.headers.get("content-type", "")
        problems = err.errors()
        if request.method == "POST" and request.url.path == "/api/ask" and "json" not in content_type:
            return error_body(f"Send the question as JSON (Content-Type: application/json), not '{content_type}'.",
                              "UnsupportedMediaType", 415)
        if any(p.get("type") == "json_invalid" for p in problems):
            return error_body("The request body is not valid JSON.", "InvalidJSON", 400)
        where = "; ".join(f"{'.'.join(str(x) for x in p['loc'][1:]) or 'body'}: {p['msg']}" for p in problems)
        return error_body(f"Invalid request: {where}.", "ValidationError", 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, err: StarletteHTTPException) -> JSONResponse:
        if err.status_code == 400 and err.detail == "There was an error parsing the body":  # FastAPI's words
            return error_body("The request body could not be read: send JSON in UTF-8.", "InvalidJSON", 400)
        response = error_body(str(err.detail), "HTTPError", err.status_code)
        for name, value in (err.headers or {}).items():
            response.headers[name] = value
        return response


class BodyLimit:
    """ASGI middleware: refuse an /api request whose declared body is too large before reading any of it."""

    def __init__(self, app: Any, max_upload_bytes: int) -> None:
        self.app = app
        # An upload's multipart body carries the file plus its headers and boundaries.
        self.limits = {"/api/ask": MAX_ASK_BODY_BYTES, "/api/articles": max_upload_bytes + 64_000}

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        limit = self.limits.get(scope.get("path", "")) if scope["type"] == "http" else None
        if limit is None:
            return await self.app(scope, receive, send)
        too_large = error_body(f"The request is over {limit:,} bytes.", "RequestTooLarge", 413)
        length = dict(scope.get("headers") or []).get(b"content-length", b"0")
        if length.isdigit() and int(length) > limit:
            return await too_large(scope, receive, send)
        # A chunked body declares no length: count what arrives, and stop reading past the limit. FastAPI
        # turns an error while reading into its own 400, so the reply to an overflow is replaced here.
        state = {"received": 0, "overflow": False, "replied": False}

        async def counted_receive() -> dict:
            message = await receive()
            state["received"] += len(message.get("body", b""))
            if state["received"] > limit:
                state["overflow"] = True
                raise BodyTooLarge
            return message

        async def checked_send(message: dict) -> None:
            if not state["overflow"]:
                return await send(message)
            if not state["replied"]:
                state["replied"] = True
                await too_large(scope, receive, send)

        try:
            await self.app(scope, counted_receive, checked_send)
        except BodyTooLarge:
            await checked_send({})


class BodyTooLarge(Exception):
    """Raised inside a request whose body grows past the route's limit while it is read."""


def bearer_auth(library: Library):
    """A dependency requiring ``Authorization: Bearer <DALIL_API_TOKEN>`` when a token is configured."""
    scheme = HTTPBearer(auto_error=False, description="DALIL_API_TOKEN, when the server has one.")

    def check(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(scheme)]) -> None:
        token = library.settings.api_token
        if token is None:
            return
        given = credentials.credentials if credentials else ""
        if not secrets.compare_digest(given.encode(), token.get_secret_value().encode()):
            raise HTTPException(401, "Missing or wrong API token: send 'Authorization: Bearer <token>'.",
                                headers={"WWW-Authenticate": "Bearer"})

    return check


def api_router(library: Library) -> APIRouter:
    """The ``/api`` routes over ``library``."""
    router = APIRouter(prefix="/api", dependencies=[Depends(bearer_auth(library))])

    @router.post("/ask", summary="Answer a question with cited passages (the `dalil ask --json` object)",
                 response_model=None)
    def ask(body: Question, stream: Stream = False) -> dict | StreamingResponse:
        history = [(turn.question, turn.answer) for turn in body.history]
        if stream:
            return sse_response(library, body.question, body.k, history)
        return library.answer(body.question, body.k, history).to_json()

    @router.get("/health", summary="Index loaded, article and passage counts, embedder")
    def health() -> dict:
        return library.health() | {"llm": library.generator.label if library.generator else None}

    @router.get("/articles", summary="The indexed articles: id, title, file, passages, when added")
    def articles() -> dict:
        return {"articles": library.articles()}

    @router.post("/articles", status_code=202, summary="Upload an article file (.txt .md .html .jsonl) to index")
    def upload(file: Annotated[UploadFile, File(description="The article file.")], wait: Wait = False) -> dict:
        check_size(file.size or 0, library.settings.max_upload_bytes)
        data = file.file.read(library.settings.max_upload_bytes + 1)
        return _job_reply(library, library.add(file.filename or "", data), wait)

    @router.delete("/articles/{ref}", status_code=202, summary="Remove an uploaded file (by file name or article id)")
    def remove(ref: str, wait: Wait = False) -> dict:
        return _job_reply(library, library.remove(ref), wait)

    @router.get("/jobs/{job_id}", summary="State and progress of an upload or removal")
    def job(job_id: str) -> dict:
        return library.job(job_id).to_json()

    @router.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    def unknown(path: str, request: Request) -> None:  # without this, the Gradio app behind would answer /api/...
        allowed = sorted({method for route in router.routes if route.name != "unknown"
                          and route.matches(request.scope)[0] == Match.PARTIAL for method in route.methods})
        if allowed:  # a route that exists, asked with another method ("GET /api/ask")
            raise HTTPException(405, f"/api/{path} takes {' or '.join(allowed)}, not {request.method}.",
                                headers={"Allow": ", ".join(allowed)})
        raise HTTPException(404, f"No API route /api/{path}: see /docs.")

    return router


def _job_reply(library: Library, job, wait: bool) -> dict:
    if wait:
        library.wait(job, WAIT_SECONDS)
        if job.state == "failed":
            raise HTTPException(422, job.message)
    return job.to_json()
