"""Bounded memory: a 20 MB article, an upload of 5,000 tiny articles, a 200 KB question; peak RSS of each.

Run:  .venv/bin/python -m benchmarks.faults.memory [--article-mb 20] [--tiny 5000]
1. `dalil index` of a folder holding one generated 20 MB article (a new process: its peak RSS from wait4);
2. `dalil serve` on a temp index of seeds/: a 200 KB question, an upload of the 20 MB article, and an upload of
   one JSONL file holding 5,000 tiny articles, with the server's peak RSS (VmHWM) after each;
3. `dalil ask` with a 200 KB question.
Each must complete or be refused with a message. Writes benchmarks/results/faults_memory.json.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.faults.corpus import article
from benchmarks.faults.results import save
from benchmarks.load_check import start_server

DALIL = Path(sys.executable).parent / "dalil"
QUESTION_200KB = ("ما هي تكلفة المشروع في الواحة؟ " * 8000)[:200_000]


def big_article(megabytes: int) -> str:
    """One article of about ``megabytes`` MB of UTF-8: generated articles' bodies, four to a paragraph (about
    800 characters, so passages are near the chunker's 900-character limit, as in long-form reports)."""
    parts, size, number = ["Annual works report of the eight towns", ""], 0, 0
    while size < megabytes * 1_000_000:
        paragraph = " ".join(" ".join(article(n)[1].split("\n", 2)[2].split()) for n in range(number, number + 4))
        parts.append(paragraph + "\n")
        size += len(paragraph.encode()) + 2
        number += 4
    return "\n".join(parts)


def run_measured(args: list[str], cwd: Path) -> dict:
    """Run a `dalil` command to completion: exit status, last stderr line, seconds, peak RSS (MB)."""
    started = time.monotonic()
    with open(cwd / "stderr.txt", "w+") as err:
        process = subprocess.Popen([str(DALIL), *args], cwd=cwd, stdout=subprocess.PIPE, stderr=err,
                                   env=dict(os.environ, HF_HUB_OFFLINE="1"))
        _, status, usage = os.wait4(process.pid, 0)
        err.seek(0)
        lines = [line for line in err.read().replace("\r", "\n").splitlines() if line.startswith("dalil")]
    stdout = process.stdout.read().decode(errors="replace").strip()
    return {"exit": os.waitstatus_to_exitcode(status), "seconds": round(time.monotonic() - started, 1),
            "peak_rss_mb": round(usage.ru_maxrss / 1024), "message": (lines[-1:] or [stdout[-300:]])[0]}


def peak_rss_mb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024)
    return -1


def tiny_articles(count: int) -> bytes:
    rows = [{"title": f"Brief {n}", "text": f"Brief number {n}: the market of town {n % 8} opened at {n % 12} o'clock."}
            for n in range(count)]
    return "\n".join(json.dumps(row) for row in rows).encode()


def server_cases(work: Path, big: bytes, tiny: int) -> dict:
    work.mkdir()
    process, url = start_server(work)
    try:
        with httpx.Client(base_url=url, timeout=3600) as http:
            cases = {"server_start": {"peak_rss_mb": peak_rss_mb(process.pid)}}
            steps = [("question_200kb", lambda: http.post("/api/ask", json={"question": QUESTION_200KB})),
                     ("upload_20mb", lambda: http.post("/api/articles", params={"wait": True},
                                                       files={"file": ("report.txt", big, "text/plain")})),
                     (f"upload_{tiny}_articles", lambda: http.post(
                         "/api/articles", params={"wait": True},
                         files={"file": ("briefs.jsonl", tiny_articles(tiny), "text/plain")}))]
            for name, send in steps:
                started = time.monotonic()
                reply = send()
                body = reply.json()
                cases[name] = {"status": reply.status_code, "seconds": round(time.monotonic() - started, 1),
                               "message": body.get("error") or body.get("message") or body.get("answer", "")[:120],
                               "peak_rss_mb": peak_rss_mb(process.pid)}
            cases["health_after"] = http.get("/api/health").json()
    finally:
        process.terminate()
        process.wait(timeout=120)
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--article-mb", type=int, default=20)
    parser.add_argument("--tiny", type=int, default=5000, help="Articles in the JSONL upload.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dalil-memory-") as tmp:
        work = Path(tmp)
        (work / "big").mkdir()
        text = big_article(args.article_mb)
        (work / "big" / "report.txt").write_text(text, encoding="utf-8")
        figures = {"article_bytes": len(text.encode()),
                   "index_20mb_article": run_measured(["index", str(work / "big"), "--index-dir",
                                                       str(work / "big-index")], work),
                   "ask_200kb_question": run_measured_or_refused(["ask", QUESTION_200KB, "--index-dir",
                                                                  str(work / "big-index")], work),
                   "server": server_cases(work / "server", text.encode(), args.tiny)}
    save("faults_memory", figures, figures)


def run_measured_or_refused(args: list[str], cwd: Path) -> dict:
    """As run_measured, or what the kernel said when it would not even start the process."""
    try:
        return run_measured(args, cwd)
    except OSError as err:  # a single argument over 128 KiB (MAX_ARG_STRLEN): E2BIG before Dalil runs
        return {"exit": None, "message": f"{type(err).__name__}: {err.strerror}"}


if __name__ == "__main__":
    main()
