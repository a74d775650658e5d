"""Fuzzing the API of a real server on loopback (hypothesis): a 2xx or a clear 4xx, never a 5xx; still healthy."""

import json
import shutil
from collections import Counter
from pathlib import Path

import httpx
import pytest

from assistant.qa import Assistant
from assistant.settings import Settings
from benchmarks.faults import fuzz
from benchmarks.faults.live import serving
from index.store import load_index

# The CI version; benchmarks/faults/fuzz.py sends over a thousand.
ASK_EXAMPLES, UPLOAD_EXAMPLES = 150, 40


@pytest.fixture()
def server(fixture_index: Path, use_embedder, tmp_path: Path):
    from ui.server import create_app

    index_dir = tmp_path / "index"
    shutil.copytree(fixture_index, index_dir, symlinks=True)
    config = Settings(index_dir=index_dir, max_upload_bytes=20_000)
    with serving(create_app(Assistant(load_index(index_dir), use_embedder, config), config)) as url:
        with httpx.Client(base_url=url, timeout=120) as http:
            yield http


@pytest.mark.slow
def test_fuzzed_requests_get_a_2xx_or_a_clear_4xx(server: httpx.Client) -> None:
    log: Counter = Counter()
    failures: list[str] = []
    fuzz.fuzz(server, "/api/ask", fuzz.ask_requests(), ASK_EXAMPLES, log, failures, strict=True)
    fuzz.fuzz(server, "/api/articles", fuzz.upload_requests(), UPLOAD_EXAMPLES, log, failures, strict=True)
    assert failures == [] and sum(log.values()) >= ASK_EXAMPLES + UPLOAD_EXAMPLES
    assert {400, 422} <= set(log) and any(200 <= status < 300 for status in log)
    assert fuzz.wait_for_jobs(server, 120)
    assert server.post("/api/ask", json={"question": "How much will the port expansion cost?"}).status_code == 200


@pytest.mark.parametrize(("body", "status", "message"), [
    (b'{"question": "\\ud800 who?"}', 400, "lone surrogate"),
    (b'{"question": "\\udfff"}', 400, "lone surrogate"),
    ('{"question": "\ud800"}'.encode("utf-8", "surrogatepass"), 400, "lone surrogate"),  # raw bytes, not an escape
    (json.dumps({"question": "\u202e\u0651\u0000?"}).encode(), 200, ""),
    ('{"question": "\u202e\u0651\u0000?"}'.encode(), 400, "not valid JSON"),  # a raw NUL: JSON wants it escaped
])
def test_awkward_questions(server: httpx.Client, body: bytes, status: int, message: str) -> None:
    reply = server.post("/api/ask", content=body, headers={"Content-Type": "application/json"})
    assert reply.status_code == status, reply.text
    assert message in reply.json().get("error", "")


def test_a_jsonl_upload_escaping_a_lone_surrogate_is_refused(server: httpx.Client) -> None:
    files = {"file": ("briefs.jsonl", b'{"title": "t", "text": "a \\ud800 b"}\n', "text/plain")}
    reply = server.post("/api/articles", files=files, params={"wait": True})
    assert reply.status_code == 422 and "briefs.jsonl':1: the line escapes a lone surrogate" in reply.json()["error"]


@pytest.mark.parametrize(("route", "content_type"), [("/api/ask", "application/json"),
                                                     ("/api/articles", "multipart/form-data; boundary=b0undary")])
def test_a_chunked_body_past_the_limit_is_refused_unread(server: httpx.Client, route: str, content_type: str) -> None:
    """No Content-Length to check up front: the server counts what arrives and stops reading at the limit
    (before, /api/ask read all 200 MB into memory and then refused the question as too long)."""

    def body():
        if route == "/api/articles":  # a well-formed start, so the parser reads on (junk may be refused as 400 first)
            yield (b'--b0undary\r\nContent-Disposition: form-data; name="file"; filename="big.txt"\r\n'
                   b"Content-Type: text/plain\r\n\r\n")
        for _ in range(200):
            yield b"x" * 1_000_000

    reply = server.post(route, content=body(), headers={"Content-Type": content_type})
    assert reply.status_code == 413 and "The request is over" in reply.json()["error"]
    assert server.get("/api/health").status_code == 200
