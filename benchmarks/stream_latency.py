"""Time to the first streamed text and to the final event of `POST /api/ask?stream=true`, against the loopback
fake OpenAI-compatible server of the tests (a fixed token rate), compared with the same answer unstreamed.

    .venv/bin/python benchmarks/stream_latency.py [--tokens 40] [--token-ms 50] [--rounds 5]

Everything runs on this machine: `dalil serve`'s app under uvicorn on a free loopback port, over an index of
tests/data/articles built in a temp folder, with the real OpenAILike client talking to the fake server.
"""

import argparse
import json
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

QUESTION = "What caused the fire in the Karam library?"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=40, help="tokens in each scripted reply")
    parser.add_argument("--token-ms", type=float, default=50.0, help="milliseconds the fake model takes per token")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    import httpx
    import uvicorn
    from llm_fakes import FakeOpenAIServer

    from assistant.qa import Assistant
    from assistant.settings import Settings
    from index.build import build_index
    from index.embedding import load_embedder
    from index.store import load_index
    from ui.server import create_app

    folder = Path(tempfile.mkdtemp(prefix="dalil-stream-"))
    embedder = load_embedder("use")
    build_index([REPO / "tests" / "data" / "articles"], folder / "index", embedder)
    words = ["An", " electrical", " fault"] + [" word"] * max(args.tokens - 6, 0) + [" [", "1", "]."]
    with FakeOpenAIServer([], delay=args.token_ms / 1000) as fake:
        settings = Settings(index_dir=folder / "index", upload_dir=folder / "uploads", llm="openai-like",
                            llm_url=fake.url, llm_model="fake")
        assistant = Assistant(load_index(folder / "index"), embedder, settings)
        app = create_app(assistant, settings)  # the LLM comes from the settings, as in `dalil serve`
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        threading.Thread(target=server.run, daemon=True).start()
        while not server.started:
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port}/api/ask"
        first, final, whole = [], [], []
        with httpx.Client(timeout=60) as client:
            for _ in range(args.rounds + 1):  # the first round warms up (imports, first connection)
                fake.replies += [list(words), list(words)]
                started = time.perf_counter()
                with client.stream("POST", url + "?stream=true", json={"question": QUESTION}) as reply:
                    seen_first = None
                    for line in reply.iter_lines():
                        if line == "event: delta" and seen_first is None:
                            seen_first = time.perf_counter() - started
                    done = time.perf_counter() - started
                started = time.perf_counter()
                data = client.post(url, json={"question": QUESTION}).json()
                plain = time.perf_counter() - started
                first.append(seen_first)
                final.append(done)
                whole.append(plain)
        server.should_exit = True
    assert data["generated"], data
    ms = lambda values: round(statistics.median(values[1:]) * 1000)  # noqa: E731
    print(json.dumps({"tokens": args.tokens, "token_ms": args.token_ms, "rounds": args.rounds,
                      "first_delta_ms_p50": ms(first), "final_event_ms_p50": ms(final),
                      "unstreamed_ms_p50": ms(whole)}))


if __name__ == "__main__":
    main()
