"""Timed runs: `dalil` commands in their own processes (wall time, peak RSS) and warm in-process queries."""

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# The `dalil` command measured; DALIL_BENCH_COMMAND can name another (e.g. a frozen copy of the code).
DALIL = os.environ.get("DALIL_BENCH_COMMAND", str(Path(sys.executable).parent / "dalil")).split()
# No look-ups from Gradio or the hub while measuring (and none are expected at run time anyway).
QUIET = {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}


@dataclass
class Run:
    """One finished process: wall seconds, peak resident memory (its own, and with its worker processes,
    sampled every 0.1 s) and what it printed."""

    seconds: float
    peak_rss_mb: float
    peak_tree_rss_mb: float
    stdout: str
    stderr: str


def percentiles(values: list[float]) -> dict:
    """p50 / p95 / p99 (nearest rank) and the count, rounded to 0.1."""
    ordered = sorted(values)

    def rank(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]

    return {"p50": round(rank(50), 1), "p95": round(rank(95), 1), "p99": round(rank(99), 1), "n": len(values)}


def first_publish(index_dir: Path, every: float = 0.1) -> Callable[[], float | None]:
    """Start watching for ``index_dir``'s first generation (the fast layer: the index answers from then on);
    the returned call gives the seconds it took, or None if none appeared."""
    started, seen = time.perf_counter(), {}
    stop = threading.Event()

    def watch() -> None:
        while not (index_dir / "current").exists():
            if stop.wait(every):
                return
        seen["s"] = time.perf_counter() - started

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()

    def result() -> float | None:
        ended = time.perf_counter() - started
        stop.set()
        thread.join()
        if "s" not in seen and (index_dir / "current").exists():
            seen["s"] = ended  # published in the last moment the watcher slept through: at most this
        return seen.get("s")

    return result


def run(*args: str) -> Run:
    """Run `dalil ARGS` to the end; its own peak RSS comes from wait4, the tree's from sampling /proc."""
    env = dict(os.environ, **QUIET)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen([*DALIL, *args], stdout=out, stderr=err, env=env)
        sampler = TreeSampler(proc.pid)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        sampler.stop()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        own = usage.ru_maxrss / 1024
        result = Run(seconds, own, max(own, sampler.peak_mb), out.read().decode(), err.read().decode())
    if proc.returncode != 0:
        raise RuntimeError(f"dalil {' '.join(args[:2])} failed ({proc.returncode}): {result.stderr[-500:]}")
    return result


class TreeSampler:
    """Peak of the summed resident memory of a process and its descendants (worker processes)."""

    def __init__(self, pid: int, every: float = 0.1) -> None:
        self.pid, self.every, self.peak_mb = pid, every, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            self.peak_mb = max(self.peak_mb, sum(_rss_mb(pid) for pid in _tree(self.pid)))


def _tree(root: int) -> list[int]:
    """``root`` and every process below it, from /proc/*/stat parent ids."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended while we looked
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def cold_asks(index_dir: Path, questions: list[str], runs: int) -> dict:
    """`dalil ask` in a new process each time, start to printed answer: median and spread."""
    times = [run("ask", questions[i % len(questions)], "--index-dir", str(index_dir)).seconds for i in range(runs)]
    return {"median_s": round(statistics.median(times), 2), "min_s": round(min(times), 2),
            "max_s": round(max(times), 2), "runs": runs}


def warm_queries(index_dir: Path, questions: list[str]) -> dict:
    """Retrieval alone (query embedding + search) and the full cited answer, in this process, warm."""
    from assistant.qa import Assistant
    from assistant.settings import Settings

    assistant = Assistant.open(Settings.load(index_dir=index_dir))
    for question in questions[:10]:  # warm-up: first calls fill caches
        assistant.answer(question)
    retrieval, answers = [], []
    for question in questions:
        started = time.perf_counter()
        assistant.retriever.search(question, k=assistant.settings.top_k)
        retrieval.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        assistant.answer(question)
        answers.append((time.perf_counter() - started) * 1000)
    return {"retrieval_ms": percentiles(retrieval), "answer_ms": percentiles(answers)}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_and_ask(index_dir: Path, questions: list[str], timeout: float = 300) -> dict:
    """Cold start of `dalil serve` until /api/ask answers, then each question through POST /api/ask."""
    import httpx

    port = free_port()
    env = dict(os.environ, **QUIET)
    started = time.perf_counter()
    proc = subprocess.Popen([*DALIL, "serve", "--port", str(port), "--index-dir", str(index_dir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            cold = _first_answer(http, questions[0], started, timeout, proc)
            latencies = []
            for question in questions:
                began = time.perf_counter()
                http.post("/api/ask", json={"question": question}).raise_for_status()
                latencies.append((time.perf_counter() - began) * 1000)
        rss = _rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(30)
    return {"cold_serve_s": round(cold, 2), "api_ask_ms": percentiles(latencies), "serve_rss_mb": rss}


def _first_answer(http, question: str, started: float, timeout: float, proc: subprocess.Popen) -> float:
    import httpx

    while time.perf_counter() - started < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"dalil serve exited with {proc.returncode}")
        try:
            if http.post("/api/ask", json={"question": question}).status_code == 200:
                return time.perf_counter() - started
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"dalil serve did not answer within {timeout:.0f} s")


def _rss_mb(pid: int) -> float:
    """Resident memory of a running process (Linux /proc), in MB; 0 once it has ended."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def folder_mb(folder: Path) -> float:
    return round(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20, 1)
