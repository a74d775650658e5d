"""Load check for `POST /api/ask`: concurrent clients on loopback, then the same while uploads are indexed.

Run:  .venv/bin/python benchmarks/load_check.py [--clients 16] [--questions 50] [--url http://127.0.0.1:7860]
Without --url it starts `dalil serve` on a free loopback port with a fresh index of seeds/ in a temp folder
(so uploads do not touch your own index). Prints p50/p95/p99 latency, throughput and errors for each phase
and writes them to benchmarks/results/load_check.json. Errors must be zero. Not a timed test.
"""

import argparse
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
QUESTIONS = [  # about the seed article, English and Arabic
    "What guarantees did Washington offer Algeria?",
    "ما هي الضمانات التي قدمتها واشنطن للجزائر؟",
    "Who is pressing Algeria to normalise relations with Morocco?",
    "منذ متى قطعت الجزائر علاقاتها مع المغرب؟",
    "What does Washington want for the region?",
    "ماذا وعد الأمريكيون القادة الجزائريين؟",
    "What is the capital of Peru?",  # unanswerable: exercises the abstention path
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def run_clients(url: str, clients: int, per_client: int, headers: dict) -> dict:
    """``clients`` threads each asking ``per_client`` questions in turn; latencies and errors."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client(number: int) -> None:
        with httpx.Client(base_url=url, timeout=120, headers=headers) as http:
            for i in range(per_client):
                question = QUESTIONS[(number + i) % len(QUESTIONS)]
                started = time.perf_counter()
                try:
                    reply = http.post("/api/ask", json={"question": question})
                    ok = reply.status_code == 200 and "answer" in reply.json()
                    problem = "" if ok else f"HTTP {reply.status_code}: {reply.text[:200]}"
                except httpx.HTTPError as err:
                    problem = f"{type(err).__name__}: {err}"
                with lock:
                    latencies.append((time.perf_counter() - started) * 1000)
                    if problem:
                        errors.append(problem)

    return latency_figures(latencies, errors, in_threads(client, clients))


def in_threads(target, count: int) -> float:
    """Run ``target(n)`` for n in range(count) in threads at once; seconds until all have returned."""
    started = time.perf_counter()
    threads = [threading.Thread(target=target, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def latency_figures(latencies: list[float], errors: list[str], seconds: float) -> dict:
    return {"requests": len(latencies), "errors": len(errors), "error_samples": errors[:5],
            "seconds": round(seconds, 1), "throughput_rps": round(len(latencies) / seconds, 2),
            "p50_ms": round(percentile(latencies, 50)), "p95_ms": round(percentile(latencies, 95)),
            "p99_ms": round(percentile(latencies, 99)), "mean_ms": round(statistics.mean(latencies))}


def generated_article(number: int, paragraphs: int) -> bytes:
    """A long article of our own making, different each time so every upload is embedded afresh."""
    lines = [f"Harbour ledger {number}", ""]
    lines += [f"Vessel {number}-{i} docked at quay {i % 9} carrying {i * 13 % 500} crates of dates and olive oil, "
              f"and left for the northern islands on day {i} of the season." for i in range(paragraphs)]
    return "\n\n".join(lines).encode()


class Uploader(threading.Thread):
    """Uploads one generated article after another until stopped, so an index update is always running."""

    def __init__(self, url: str, headers: dict, paragraphs: int) -> None:
        super().__init__(daemon=True)
        self.url, self.headers, self.paragraphs = url, headers, paragraphs
        self.stop = threading.Event()
        self.jobs: list[dict] = []

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=600, headers=self.headers) as http:
            number = 0
            while not self.stop.is_set():
                number += 1
                files = {"file": (f"ledger_{number}.txt", generated_article(number, self.paragraphs), "text/plain")}
                started = time.perf_counter()
                job = http.post("/api/articles", params={"wait": True}, files=files).json()
                job["seconds"] = round(time.perf_counter() - started, 1)
                self.jobs.append(job)


@contextlib.contextmanager
def served(prefix: str) -> Iterator[str]:
    """The URL of a `dalil serve` on a temporary index of seeds/, stopped (whole process group) on exit."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        process, url = start_server(Path(tmp))
        try:
            yield url
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=60)


def start_server(folder: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # None of the caller's DALIL_ settings, except the deep layer's: a benchmark may run without it.
    env = {k: v for k, v in os.environ.items() if not k.startswith("DALIL_") or k == "DALIL_DEEP_MODEL"}
    env.update(HF_HUB_OFFLINE="1", HF_HUB_DISABLE_TELEMETRY="1", GRADIO_ANALYTICS_ENABLED="False")
    process = subprocess.Popen([str(Path(sys.executable).parent / "dalil"), "serve", "--port", str(port),
                                "--index-dir", str(folder / "index")], cwd=folder, env=env,
                               stdout=subprocess.DEVNULL, stderr=open(folder / "serve.log", "w"),  # noqa: SIM115
                               start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.5)
    raise SystemExit(f"dalil serve did not start: {(folder / 'serve.log').read_text()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="A running server (default: start one on a temp index of seeds/).")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--questions", type=int, default=50, help="Questions per client.")
    parser.add_argument("--paragraphs", type=int, default=600, help="Paragraphs per uploaded article.")
    parser.add_argument("--token", default=os.environ.get("DALIL_API_TOKEN"))
    args = parser.parse_args()
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    with contextlib.nullcontext(args.url) if args.url else served("dalil-load-") as url:
        results = measure(url, args, headers)
    out = REPO / "benchmarks" / "results" / "load_check.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1, ensure_ascii=False))
    print(json.dumps(results, indent=1, ensure_ascii=False))
    if any(phase["errors"] for phase in (results["steady"], results["while_indexing"])):
        raise SystemExit("errors: see error_samples above")


def measure(url: str, args: argparse.Namespace, headers: dict) -> dict:
    health = httpx.get(f"{url}/api/health", headers=headers).json()
    print(f"{url}: {health['articles']} articles, {health['passages']} passages, {os.cpu_count()} CPUs;"
          f" {args.clients} clients x {args.questions} questions", file=sys.stderr)
    steady = run_clients(url, args.clients, args.questions, headers)
    print(f"steady: {steady}", file=sys.stderr)
    uploader = Uploader(url, headers, args.paragraphs)
    uploader.start()
    while not httpx.get(f"{url}/api/health", headers=headers).json()["indexing"]:
        time.sleep(0.05)
    busy = run_clients(url, args.clients, args.questions, headers)
    uploader.stop.set()
    uploader.join()
    busy["uploads_indexed"] = [{k: job.get(k) for k in ("file", "state", "total", "seconds")}
                               for job in uploader.jobs]
    print(f"while indexing: {busy}", file=sys.stderr)
    after = httpx.get(f"{url}/api/health", headers=headers).json()
    return {"server": url, "cpus": os.cpu_count(), "clients": args.clients, "questions_per_client": args.questions,
            "index_before": {k: health[k] for k in ("articles", "passages")},
            "index_after": {k: after[k] for k in ("articles", "passages")}, "steady": steady,
            "while_indexing": busy}


if __name__ == "__main__":
    main()
