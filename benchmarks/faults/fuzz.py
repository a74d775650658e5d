"""Fuzzing the HTTP API with hypothesis: random Unicode, wrong types, huge fields, random bytes as files.

Run:  .venv/bin/python -m benchmarks.faults.fuzz [--asks 800] [--uploads 300]
Starts `dalil serve` on a free loopback port over a fresh index of seeds/ in a temp folder, sends the
generated requests, and counts replies that are neither a 2xx nor a clear 4xx (a JSON body with an
"error" line), plus health checks that fail. Writes benchmarks/results/faults_fuzz.json.
"""

import argparse
import json
import time
from collections import Counter

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.faults.results import save

# Characters that break naive text handling: bidi controls, combining marks, NUL, BOM, non-characters.
AWKWARD = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069", "\u200e",
           "\u200f", "\u061c", "\u0301", "\u0651", "\u064b", "\u0670", "\u0000", "\ufeff", "\uffff", "\ufffd",
           "\ud800", "\udfff", "\U0001f600", "\u0640", "؟", "\n", "\t", "\\", '"']
# Any code point, lone surrogates included (json.dumps escapes them as \udXXX, as a client might send),
# with the awkward ones drawn often enough to meet in every few examples.
CHARS = st.one_of(st.sampled_from(AWKWARD), st.characters(categories=["Cs"]), st.characters(codec=None))


def text(min_size: int = 0, max_size: int = 60) -> st.SearchStrategy[str]:
    """Strings of CHARS (st.text would merge the alphabet into one range and drop the surrogates)."""
    return st.lists(CHARS, min_size=min_size, max_size=max_size).map("".join)


TEXT = text()
JSON_VALUE = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | TEXT,
                          lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
                          max_leaves=6)


def huge_text(min_size: int, max_size: int) -> st.SearchStrategy[str]:
    """A long string built cheaply (hypothesis would take ages drawing 200,000 characters one by one)."""
    return st.builds(lambda piece, n: (piece * (n // max(len(piece), 1) + 1))[:n], text(1, 8),
                     st.integers(min_size, max_size))


# st.one_of draws each branch about equally often: repeating a branch gives it more weight.
QUESTION = st.one_of(TEXT.filter(str.strip), TEXT.filter(str.strip), TEXT.filter(str.strip), TEXT,
                     huge_text(1900, 2100), huge_text(100_000, 250_000),
                     st.sampled_from(["What guarantees did Washington offer Algeria?", "ما هي الضمانات؟"]))
K = st.one_of(st.integers(-5, 60), st.just(2**70), st.floats(allow_nan=True), TEXT, st.booleans(), st.none())
ASK_BODY = st.one_of(
    st.fixed_dictionaries({"question": QUESTION}),
    st.fixed_dictionaries({"question": QUESTION}),
    st.fixed_dictionaries({"question": QUESTION}, optional={"k": K}),
    st.fixed_dictionaries({"question": JSON_VALUE}),  # wrong types
    st.dictionaries(TEXT, JSON_VALUE, max_size=3),  # unknown or missing keys
    JSON_VALUE,  # not an object at all
)


@st.composite
def ask_requests(draw) -> dict:
    """keyword arguments for ``httpx.Client.post('/api/ask', ...)``."""
    kind = draw(st.sampled_from(["json"] * 8 + ["bytes", "type"]))
    if kind == "json":
        body = json.dumps(draw(ASK_BODY), ensure_ascii=draw(st.booleans()), allow_nan=True)
        data = body.encode("utf-8", "surrogatepass")  # ensure_ascii=False keeps surrogates raw: invalid UTF-8
        return {"content": data, "headers": {"Content-Type": "application/json"}}
    if kind == "bytes":
        return {"content": draw(st.binary(max_size=300)), "headers": {"Content-Type": "application/json"}}
    content_type = draw(st.sampled_from(["text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                                         "application/json; charset=latin-1", ""]))
    return {"content": draw(st.binary(max_size=100)), "headers": {"Content-Type": content_type}}


EXTENSION = st.sampled_from([".txt", ".md", ".html", ".jsonl", ".TXT", ".pdf", "", ".txt.exe", "."])
# A form field or a multipart file name must encode to UTF-8 on the client's side: no lone surrogates there.
FORM_TEXT = text(max_size=40).map(lambda s: s.encode("utf-8", "replace").decode("utf-8"))
FILE_NAME = st.builds(lambda stem, ext: stem + ext, FORM_TEXT, EXTENSION)
FILE_BODY = st.one_of(
    st.binary(max_size=2000),
    text(1, 400).map(lambda s: s.encode("utf-8", "surrogatepass")),
    st.lists(JSON_VALUE, min_size=1, max_size=4).map(
        lambda rows: "\n".join(json.dumps(r, allow_nan=True) for r in rows).encode()),
    text(max_size=200).map(lambda s: json.dumps({"title": "t", "text": s}).encode()),
)


@st.composite
def upload_requests(draw) -> dict:
    """keyword arguments for ``httpx.Client.post('/api/articles', ...)``."""
    wait = draw(st.sampled_from(["false", "false", "true", "yes", "maybe", ""]))
    if draw(st.integers(0, 9)) == 0:  # not a file at all
        return {"params": {"wait": wait}, "data": {"file": draw(FORM_TEXT) or "x"}}
    files = {"file": (draw(FILE_NAME), draw(FILE_BODY), draw(st.sampled_from(["text/plain", "application/pdf"])))}
    return {"params": {"wait": wait}, "files": files}


def problem(reply: httpx.Response) -> str:
    """What is wrong with a reply ('' when it is a 2xx, or a 4xx whose JSON body has an error line)."""
    if 200 <= reply.status_code < 300:
        return ""
    if reply.status_code >= 500 or reply.status_code < 400:
        return f"HTTP {reply.status_code}: {reply.text[:200]}"
    try:
        error = reply.json().get("error")
    except ValueError:
        return f"HTTP {reply.status_code} without a JSON body: {reply.text[:200]}"
    return "" if isinstance(error, str) and error.strip() else f"HTTP {reply.status_code} without an error line"


def fuzz(http: httpx.Client, route: str, strategy: st.SearchStrategy, examples: int, log: Counter,
         failures: list[str], strict: bool) -> None:
    """Send ``examples`` generated requests to ``route``; a bad reply fails at once when ``strict``."""

    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(request=strategy)
    def one(request: dict) -> None:
        reply = http.post(route, **request)
        log[reply.status_code] += 1
        wrong = problem(reply)
        if wrong:
            failures.append(f"{route} {request!r:.300}: {wrong}")
            assert not strict, wrong

    one()


def run(url: str, asks: int, uploads: int, strict: bool = False) -> dict:
    """Fuzz ``/api/ask`` then the upload route of the server at ``url``; health is checked after each."""
    log: Counter = Counter()
    failures: list[str] = []
    health = []
    with httpx.Client(base_url=url, timeout=120) as http:
        for route, strategy, examples in (("/api/ask", ask_requests(), asks),
                                          ("/api/articles", upload_requests(), uploads)):
            fuzz(http, route, strategy, examples, log, failures, strict)
            health.append(http.get("/api/health").status_code)
        jobs = wait_for_jobs(http)
        health.append(http.get("/api/health").status_code)
        asked = http.post("/api/ask", json={"question": "What guarantees did Washington offer Algeria?"})
    return {"requests": sum(log.values()), "by_status": dict(sorted(log.items())), "failures": len(failures),
            "failure_samples": failures[:10], "health": health, "jobs_after": jobs,
            "answers_after": asked.status_code == 200 and bool(asked.json().get("answer"))}


def wait_for_jobs(http: httpx.Client, seconds: float = 600) -> bool:
    """Whether the queued indexing jobs all finished (the server reports it is no longer indexing)."""
    deadline = time.monotonic() + seconds
    while http.get("/api/health").json()["indexing"]:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--asks", type=int, default=800, help="Generated requests to POST /api/ask.")
    parser.add_argument("--uploads", type=int, default=300, help="Generated requests to POST /api/articles.")
    args = parser.parse_args()
    from benchmarks.load_check import served

    with served("dalil-fuzz-") as url:
        figures = run(url, args.asks, args.uploads)
    out = save("faults_fuzz", figures, figures)
    if figures["failures"] or set(figures["health"]) != {200} or not figures["answers_after"]:
        raise SystemExit(f"the server failed: see {out}")


if __name__ == "__main__":
    main()
