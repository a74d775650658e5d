"""Crash safety: SIGKILL `dalil index` at many moments of a build and of an incremental update.

Run:  .venv/bin/python -m benchmarks.faults.crash [--kills 20] [--articles 200]
For each kind of run (a first build, an incremental update: 10% changed, 10% removed, 10% added, and an
append: 10% added after every other file, whose generation appends to the previous one's files) it times
one uninterrupted run, then kills fresh runs: half at moments spread over the whole run, half at moments
spread over the write phase (timed from the appearance of the new generation folder). After each kill the
index must load and answer exactly as before the run or as after it, the lock must be free, and the next
build must succeed and clear what the killed one left. Writes benchmarks/results/faults_crash.json.
"""

import argparse
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from assistant.qa import Assistant
from benchmarks.faults.corpus import questions, write_corpus
from benchmarks.faults.results import save
from index.build import build_index
from index.embedding import load_embedder
from index.errors import IndexError_, IndexMissing
from index.store import CURRENT, load_index

POLL_SECONDS = 0.0005


@dataclass
class Scenario:
    """One kind of interrupted run: the corpus it indexes, the index it starts from, the two allowed states."""

    kind: str  # "build", "update" or "append"
    corpus: Path
    start: Path | None  # an index folder to copy as the starting state (None: no index yet)
    before: list[dict] | None  # answers before the run (None: there was no index)
    after: list[dict]


def answers(index_dir: Path, embedder, asked: list[str], deep_embedder=None) -> list[dict]:
    """What the index at ``index_dir`` answers, without timings (they differ from run to run)."""
    assistant = Assistant(load_index(index_dir), embedder, deep_embedder=deep_embedder)
    return [{k: v for k, v in assistant.answer(q).to_json().items() if k != "timings_ms"} for q in asked]


def dalil_index(corpus: Path, index_dir: Path) -> subprocess.Popen:
    # The fast layer only: the references are built without a deep layer, and a deep fill publishes
    # intermediate generations on purpose (each whole, but answering between "before" and "after").
    env = dict(os.environ, HF_HUB_OFFLINE="1", DALIL_DEEP_MODEL="none")
    return subprocess.Popen([str(Path(sys.executable).parent / "dalil"), "index", str(corpus), "--index-dir",
                             str(index_dir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)


def generations(index_dir: Path) -> set[str]:
    return {p.name for p in index_dir.glob("gen-*")} if index_dir.exists() else set()


def timed_run(corpus: Path, index_dir: Path) -> dict:
    """One uninterrupted run: seconds until the new generation folder appears, and until exit."""
    old = generations(index_dir)
    started = time.monotonic()
    process, appeared = dalil_index(corpus, index_dir), None
    while process.poll() is None:
        if appeared is None and generations(index_dir) - old:
            appeared = time.monotonic() - started
        time.sleep(POLL_SECONDS)
    if process.returncode != 0 or appeared is None:
        raise SystemExit(f"the reference `dalil index` run failed (exit {process.returncode})")
    return {"write_starts": appeared, "exits": time.monotonic() - started}


def kill_at(scenario: Scenario, index_dir: Path, delay: float, after_write_starts: bool,
            start: Callable[[Path, Path], subprocess.Popen] | None = None) -> str:
    """Start a run (``start(corpus, index_dir)``, default `dalil index`), SIGKILL it ``delay`` s after it
    starts (or after its generation folder appears).

    Returns where the kill landed: "exited" (too late), "writing" or "running".
    """
    old = generations(index_dir)
    process = (start or dalil_index)(scenario.corpus, index_dir)
    started = time.monotonic()
    if after_write_starts:
        while process.poll() is None and not generations(index_dir) - old:
            time.sleep(POLL_SECONDS)
        started = time.monotonic()
    while process.poll() is None and time.monotonic() - started < delay:
        time.sleep(POLL_SECONDS)
    landed = where(process, index_dir, old)
    process.send_signal(signal.SIGKILL)
    process.wait()
    return landed


def where(process: subprocess.Popen, index_dir: Path, old: set[str]) -> str:
    """The stage a run is in: "running" (loading, embedding), "writing" (its generation is being written),
    "published" (``current`` points at it; old generations being removed), or "exited"."""
    new = generations(index_dir) - old
    if process.poll() is not None:
        return "exited"
    if not new:
        return "running"
    link = index_dir / CURRENT
    return "published" if link.is_symlink() and os.readlink(link) in new else "writing"


def lock_is_free(index_dir: Path) -> bool:
    """The writer's flock can be taken at once (a killed writer's lock died with it)."""
    if not (index_dir / ".lock").exists():
        return True
    fd = os.open(index_dir / ".lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def state_after_kill(scenario: Scenario, index_dir: Path, embedder, asked: list[str]) -> str:
    """ "before", "after", or what is wrong: "damaged: ...", "mixed"."""
    try:
        got = answers(index_dir, embedder, asked)
    except IndexMissing:
        return "before" if scenario.before is None else "damaged: index missing"
    except IndexError_ as err:
        return f"damaged: {err}"
    if got == scenario.after:
        return "after"
    return "before" if got == scenario.before else "mixed"


def recover(scenario: Scenario, index_dir: Path, embedder, asked: list[str]) -> str:
    """The next build succeeds, ends in the "after" state, and leaves one generation and no temp links."""
    try:
        build_index([scenario.corpus], index_dir, embedder)
    except IndexError_ as err:
        return f"next build failed: {err}"
    leftovers = generations(index_dir) - {(index_dir / CURRENT).resolve().name}
    leftovers |= {p.name for p in index_dir.glob(f".{CURRENT}.*")}
    if leftovers:
        return f"left behind: {sorted(leftovers)}"
    return "ok" if answers(index_dir, embedder, asked) == scenario.after else "next build answers differ"


def trial(scenario: Scenario, work: Path, delay: float, in_write: bool, embedder, asked: list[str]) -> dict:
    index_dir = work / f"ix-{scenario.kind}"
    shutil.rmtree(index_dir, ignore_errors=True)
    if scenario.start is not None:
        shutil.copytree(scenario.start, index_dir, symlinks=True)
    landed = kill_at(scenario, index_dir, delay, in_write)
    state = state_after_kill(scenario, index_dir, embedder, asked)
    lock_free = lock_is_free(index_dir)
    recovery = recover(scenario, index_dir, embedder, asked)
    return {"kind": scenario.kind, "delay_ms": round(delay * 1000), "from": "write" if in_write else "start",
            "landed": landed, "state": state, "lock_free": lock_free, "recovery": recovery,
            "ok": state in ("before", "after") and lock_free and recovery == "ok"}


def scenarios(work: Path, articles: int, embedder, asked: list[str]) -> list[Scenario]:
    """A first build of corpus A, an update of A's index to corpus B, and an append to it (corpus C: A and a
    tenth of new articles sorted after every other file, whose generation shares A's files and appends to
    them, index/store.py), with the reference states."""
    tenth = max(1, articles // 10)
    corpus_a = write_corpus(work / "corpus-a", articles)
    # B drops A's first tenth, changes the next tenth, keeps the rest, and adds a tenth of new ones.
    corpus_b = write_corpus(work / "corpus-b", articles - tenth, changed=frozenset(range(tenth, 2 * tenth)),
                            start=tenth)
    write_corpus(corpus_b, tenth, start=articles)  # the added ones
    corpus_c = write_corpus(work / "corpus-c", articles)
    write_corpus(corpus_c / "zz-added", tenth, start=articles)
    index_a, index_b, index_c = work / "ref-a", work / "ref-b", work / "ref-c"
    build_index([corpus_a], index_a, embedder)
    for index_dir, corpus in ((index_b, corpus_b), (index_c, corpus_c)):
        shutil.copytree(index_a, index_dir, symlinks=True)
        build_index([corpus], index_dir, embedder)
    ref_a, ref_b, ref_c = (answers(index_dir, embedder, asked) for index_dir in (index_a, index_b, index_c))
    return [Scenario("build", corpus_a, None, None, ref_a), Scenario("update", corpus_b, index_a, ref_a, ref_b),
            Scenario("append", corpus_c, index_a, ref_a, ref_c)]


def probe_copy(scenario: Scenario, work: Path) -> Path:
    """A fresh copy of the scenario's starting index, for the timed run."""
    probe = work / "probe"
    shutil.rmtree(probe, ignore_errors=True)
    if scenario.start is not None:
        shutil.copytree(scenario.start, probe, symlinks=True)
    return probe


def moments(timing: dict, kills: int) -> list[tuple[float, bool]]:
    """``kills`` moments: half spread evenly over the whole run, half after its generation folder appears,
    geometrically from 0 ms to the end of the run (writing a generation takes only tens of milliseconds)."""
    whole, rest = kills - kills // 2, kills // 2
    write = timing["exits"] - timing["write_starts"]
    return ([(timing["exits"] * (i + 0.5) / whole, False) for i in range(whole)]
            + [(0.0 if i == 0 else 0.001 * (write / 0.001) ** ((i - 1) / max(rest - 2, 1)), True)
               for i in range(rest)])


def run(work: Path, articles: int, kills: int, kinds: tuple[str, ...] = ("build", "update", "append"),
        at: list[tuple[float, bool]] | None = None, embedder=None, checks: int = 8) -> dict:
    """``kills`` trials of each kind of run (or one at each of the moments ``at``, with no timed run first);
    returns the figures and every trial's outcome. ``embedder`` must be the default one (default: loaded here);
    ``checks`` questions (at most 8) are compared after each kill."""
    embedder = embedder or load_embedder("use")
    tenth = max(1, articles // 10)
    # About a removed, a changed, an added and an unchanged article first, as far as ``checks`` goes.
    asked = questions([0, tenth + 1, articles, articles // 2, 1, tenth + tenth // 2, articles + 1,
                       articles - 1][:checks])
    results = []
    for scenario in [s for s in scenarios(work, articles, embedder, asked) if s.kind in kinds]:
        timing = timed_run(scenario.corpus, probe_copy(scenario, work)) if at is None else None
        for delay, in_write in at or moments(timing, kills):
            results.append(trial(scenario, work, delay, in_write, embedder, asked) | {"timing": timing})
    bad = [r for r in results if not r["ok"]]
    return {"articles": articles, "kills": len(results), "corruptions": sum(r["state"] not in ("before", "after")
                                                                           for r in results),
            "stale_locks": sum(not r["lock_free"] for r in results), "failed_recoveries":
            sum(r["recovery"] != "ok" for r in results), "failures": len(bad),
            "states": {s: sum(r["state"] == s for r in results) for s in ("before", "after")},
            "landed": {s: sum(r["landed"] == s for r in results) for s in ("running", "writing", "published",
                                                                               "exited")},
            "trials": results}


def command(name: str, doc: str, run_trials: Callable[..., dict], kills: int, articles: int,
            kinds: tuple[str, ...] = ("build", "update", "append")) -> None:
    """The command line of a kill benchmark: parse, run in a temporary folder, save, fail on any failure."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--kills", type=int, default=kills, help="Kills per kind of run.")
    parser.add_argument("--articles", type=int, default=articles)
    parser.add_argument("--kinds", default=",".join(kinds),
                        help=f"Which runs to kill, comma-separated: {', '.join(kinds)}.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix=f"dalil-{name}-") as tmp:
        figures = run_trials(Path(tmp), args.articles, args.kills, tuple(args.kinds.split(",")))
    out = save(name, figures, {k: v for k, v in figures.items() if k != "trials"})
    if figures["failures"]:
        raise SystemExit(f"{figures['failures']} failed trials: see {out}")


def main() -> None:
    command("faults_crash", __doc__, run, kills=20, articles=200)


if __name__ == "__main__":
    main()
