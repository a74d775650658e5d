"""Concurrency: 16 clients asking while two uploads are indexed; every answer from the old or the new index.

Run:  .venv/bin/python -m benchmarks.faults.concurrency [--clients 16] [--paragraphs 400]
Starts `dalil serve` on a temp index of seeds/ (benchmarks/load_check.py), then:
1. reference: the answers to a fixed set of questions before the uploads, after upload 1, after uploads 1 and 2
   (then both are removed, and the answers must be the first ones again);
2. idle: the clients ask the questions in turn, no index update running;
3. writing: the two uploads are queued and the clients ask until both jobs have ended. Every reply must be a
   200 whose answer and citations equal one of the three reference states, never a mix; both uploads must
   end `done` with all their passages, or `failed`.
Prints and writes benchmarks/results/faults_concurrency.json (latency p50/p95, throughput, errors, mixes).
"""

import argparse
import json
import os
import threading
import time
from collections import Counter

import httpx

from benchmarks.faults.results import save
from benchmarks.load_check import generated_article, in_threads, latency_figures, served

QUESTIONS = [
    "What guarantees did Washington offer Algeria?",
    "ما هي الضمانات التي قدمتها واشنطن للجزائر؟",
    "How many crates did vessel 1-7 carry?",  # in upload 1 only
    "How many crates did vessel 2-11 carry?",  # in upload 2 only
    "Which quay did vessel 2-5 dock at?",
]


def content(reply: dict) -> str:
    """What must be the same in two answers from the same index (not timings, not float noise)."""
    citations = [(c["source"], c["text"], c["start"], c["end"]) for c in reply["citations"]]
    return json.dumps([reply["answer"], reply["abstained"], citations], ensure_ascii=False)


def ask_all(http: httpx.Client) -> list[str]:
    return [content(http.post("/api/ask", json={"question": q}).json()) for q in QUESTIONS]


def upload(http: httpx.Client, number: int, paragraphs: int, wait: bool) -> dict:
    files = {"file": (f"ledger_{number}.txt", generated_article(number, paragraphs), "text/plain")}
    return http.post("/api/articles", params={"wait": wait}, files=files, timeout=900).json()


def passages_of(http: httpx.Client) -> dict[str, int]:
    return {row["source"]: row["passages"] for row in http.get("/api/articles").json()["articles"]}


def references(http: httpx.Client, paragraphs: int) -> dict:
    """The answers in each of the three states the update passes through, and the passages of each upload."""
    states = [ask_all(http)]
    for number in (1, 2):
        assert upload(http, number, paragraphs, wait=True)["state"] == "done"
        states.append(ask_all(http))
    passages = passages_of(http)
    for number in (1, 2):
        assert http.delete(f"/api/articles/ledger_{number}.txt", params={"wait": True}).json()["state"] == "done"
    return {"states": states, "passages": passages, "restored": ask_all(http) == states[0]}


def clients(url: str, count: int, keep_going, refs: list[list[str]] | None) -> dict:
    """``count`` threads asking QUESTIONS in turn while ``keep_going(asked)``; latency, errors and mixes."""
    latencies, errors, states, lock = [], [], Counter(), threading.Lock()

    def client(number: int) -> None:
        with httpx.Client(base_url=url, timeout=300) as http:
            asked = 0
            while keep_going(asked):
                index = (number + asked) % len(QUESTIONS)
                started = time.perf_counter()
                try:
                    reply = http.post("/api/ask", json={"question": QUESTIONS[index]})
                    problem = "" if reply.status_code == 200 else f"HTTP {reply.status_code}: {reply.text[:200]}"
                except httpx.HTTPError as err:
                    reply, problem = None, f"{type(err).__name__}: {err}"
                elapsed = (time.perf_counter() - started) * 1000
                state = "error" if problem else which_state(content(reply.json()), index, refs)
                with lock:
                    latencies.append(elapsed)
                    states[state] += 1
                    if problem:
                        errors.append(problem)
                asked += 1

    seconds = in_threads(client, count)
    return latency_figures(latencies, errors, seconds) | {"states": dict(states), "mixed": states["mixed"]}


def which_state(answer: str, index: int, refs: list[list[str]] | None) -> str:
    """Which reference state an answer belongs to ("before", "after 1", "after 2"), or "mixed"."""
    if refs is None:
        return "unchecked"
    names = ("before", "after 1", "after 2")
    return next((names[i] for i, state in enumerate(refs) if state[index] == answer), "mixed")


def measure(url: str, count: int, paragraphs: int, idle_questions: int) -> dict:
    with httpx.Client(base_url=url, timeout=900) as http:
        ref = references(http, paragraphs)
        idle = clients(url, count, lambda asked: asked < idle_questions, ref["states"])
        jobs = [upload(http, number, paragraphs, wait=False) for number in (1, 2)]
        ended = threading.Event()

        def watch() -> None:
            for job in jobs:
                while http.get(f"/api/jobs/{job['id']}").json()["state"] not in ("done", "failed"):
                    time.sleep(0.1)
            ended.set()

        watcher = threading.Thread(target=watch)
        watcher.start()
        # Each client asks at least twice: an upload whose passages are in the embedding cache (the reference
        # phase embedded them) can land before a client has asked anything.
        writing = clients(url, count, lambda asked: asked < 2 or not ended.is_set(), ref["states"])
        watcher.join()
        final = [http.get(f"/api/jobs/{job['id']}").json() for job in jobs]
        landed = passages_of(http)
        whole = all(job["state"] == "failed" or landed.get(job["file"]) == ref["passages"][job["file"]]
                    for job in final)
        after = ask_all(http)
    return {"clients": count, "paragraphs_per_upload": paragraphs, "cpus": os.cpu_count(),
            "removal_restores_answers": ref["restored"], "idle": idle, "writing": writing,
            "uploads": [{k: job[k] for k in ("file", "state", "total", "message")} | {
                "seconds": round(job["finished_at"] - job["started_at"], 1)} for job in final],
            "uploads_whole": whole, "final_answers_are_after_2": after == ref["states"][2]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--paragraphs", type=int, default=400, help="Paragraphs per uploaded article.")
    parser.add_argument("--idle-questions", type=int, default=20, help="Questions per client in the idle phase.")
    args = parser.parse_args()
    with served("dalil-concurrency-") as url:
        figures = measure(url, args.clients, args.paragraphs, args.idle_questions)
    out = save("faults_concurrency", figures, figures)
    phases = (figures["idle"], figures["writing"])
    if any(p["errors"] or p["mixed"] for p in phases) or not figures["uploads_whole"]:
        raise SystemExit(f"errors, mixed answers or a partial upload: see {out}")


if __name__ == "__main__":
    main()
