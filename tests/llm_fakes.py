"""A scripted llama-index LLM for tests: canned replies, streamed token by token, and the prompts it got."""

import time
from collections.abc import Sequence
from typing import Any

from llama_index.core.llms import CompletionResponse, CompletionResponseGen, CustomLLM, LLMMetadata
from llama_index.core.llms.callbacks import llm_completion_callback
from pydantic import Field

from assistant.generation import Generator


class ScriptedLLM(CustomLLM):
    """Each call takes the next reply: a list of tokens to stream, or an exception to raise mid-stream.

    A reply ``["The fire [", "2", "]."]`` streams those three tokens in order, each a separate delta,
    so split markers reach Dalil split. ``delay`` seconds pass before each token; ``streamed`` counts the
    tokens given out (a timeout test checks the answer came before the last).
    """

    replies: list[Any] = Field(default_factory=list)
    prompts: list[str] = Field(default_factory=list)
    delay: float = 0.0
    streamed: int = 0

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name="scripted", is_chat_model=False)

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(text="".join(r.delta for r in self.stream_complete(prompt)))

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        self.prompts.append(prompt)
        reply = self.replies.pop(0)

        def tokens() -> CompletionResponseGen:
            text = ""
            for token in reply:
                if isinstance(token, BaseException):
                    raise token
                time.sleep(self.delay)
                text += token
                self.streamed += 1
                yield CompletionResponse(text=text, delta=token)

        return tokens()


def scripted(*replies: Sequence[Any] | str, timeout: float = 5.0, delay: float = 0.0) -> Generator:
    """A Generator over a ScriptedLLM; a reply given as one string is split into 3-character tokens."""
    listed = [[r[i:i + 3] for i in range(0, len(r), 3)] or [""] if isinstance(r, str) else list(r) for r in replies]
    return Generator(ScriptedLLM(replies=listed, delay=delay), "scripted:fake", timeout, "scripted")


def library_with(assistant, generator: Generator, settings=None):
    """A served Library over ``assistant`` whose answers ``generator`` writes."""
    from ui.library import Library

    library = Library(assistant, settings or assistant.settings)
    library.generator = generator
    return library


def check_generated(answer) -> None:
    """Citations numbered 1..n, each cited in the text and every marker resolving, spans on a sentence."""
    numbers = [c.n for c in answer.citations]
    assert numbers == list(range(1, len(numbers) + 1))
    assert answer.markers() and set(answer.markers()) == set(numbers)
    for c in answer.citations:
        assert 0 <= c.start < c.end <= len(c.text)
        assert c.sentence.strip() == c.sentence


class FakeOpenAIServer:
    """A loopback OpenAI-compatible server: POST /v1/chat/completions, plain or streamed (SSE), from a script;
    and Ollama's POST /api/chat, streamed as JSON lines.

    ``replies`` are token lists, one per request; ``delay`` seconds pass before each token (a slow model).
    ``requests`` keeps each request body; ``spoke`` is set once a reply's first token or body is written (a
    timeout test checks the answer came before it), ``accepted`` counts connections. Use as a context manager;
    ``url`` is its OpenAI API base, ``root`` the server itself (Ollama's base URL).
    """

    def __init__(self, replies: list[list[str]], delay: float = 0.0) -> None:
        import http.server
        import threading

        self.replies, self.delay, self.requests = list(replies), delay, []
        self.spoke, self.accepted = threading.Event(), 0
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.root = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.url = f"{self.root}/v1"

    def __enter__(self) -> "FakeOpenAIServer":
        import threading

        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type:
        import http.server
        import json

        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep pytest output clean
                pass

            def setup(self) -> None:
                fake.accepted += 1
                super().setup()

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                fake.requests.append(body)
                if not self.path.endswith(("/chat/completions", "/api/chat")) or not fake.replies:
                    self._json({"object": "error", "type": "NotFoundError", "code": 404,  # as vLLM says it
                                "message": f"The model `{body.get('model')}` does not exist."}, status=404)
                    return
                tokens = fake.replies.pop(0)
                try:
                    self._reply(tokens, body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (the timeout tests): nothing to report

            def _reply(self, tokens: list[str], body: dict) -> None:
                if self.path == "/api/chat":
                    self._ollama(tokens, body["model"])
                elif body.get("stream"):
                    self._stream(tokens, body["model"])
                else:
                    time.sleep(fake.delay * len(tokens))
                    fake.spoke.set()
                    self._json({"id": "c1", "object": "chat.completion", "created": 0, "model": body["model"],
                                "choices": [{"index": 0, "finish_reason": "stop",
                                             "message": {"role": "assistant", "content": "".join(tokens)}}]})

            def _stream(self, tokens: list[str], model: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for token, finish in [*((t, None) for t in tokens), ("", "stop")]:
                    time.sleep(fake.delay if finish is None else 0)
                    fake.spoke.set()
                    chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": model,
                             "choices": [{"index": 0, "delta": {"role": "assistant", "content": token},
                                          "finish_reason": finish}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")

            def _ollama(self, tokens: list[str], model: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson")
                self.end_headers()
                for token, done in [*((t, False) for t in tokens), ("", True)]:
                    time.sleep(fake.delay if not done else 0)
                    fake.spoke.set()
                    line = {"model": model, "created_at": "2026-11-29T00:00:00Z", "done": done,
                            "message": {"role": "assistant", "content": token}}
                    self.wfile.write((json.dumps(line | ({"done_reason": "stop"} if done else {})) + "\n").encode())
                    self.wfile.flush()

            def _json(self, data: dict, status: int = 200) -> None:
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        return Handler
