"""Crash safety of the deep layer's fill: SIGKILL `dalil index` while e5 fills in behind the fast layer.

Run:  .venv/bin/python -m benchmarks.faults.deep_crash [--kills 10] [--articles 40]
The fill publishes a generation after every batch here (``DEEP_PUBLISH_SECONDS`` set to 0 in the killed
process), so kills land between, during and after many intermediate publications. Two kinds of run: a
first build, and an update in place (in the same folder a tenth of the articles removed, a tenth changed
and a tenth added, so unchanged files keep their deep rows). After each kill:
- the index is the one the run started from ("before"; a first build: none yet), or a generation of this
  run whose done passages have exactly the deep vectors of an uninterrupted build (passage, sentence and
  fast-sentence rows); with none done it answers exactly like the fast layer alone, with all done exactly
  like the uninterrupted build;
- the writer's lock is free;
- the next build resumes: a first build embeds only the passages not done yet; it ends complete, answers
  exactly like the uninterrupted build and leaves one generation behind.
Writes benchmarks/results/faults_deep_crash.json.
"""

import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.faults.corpus import questions, write_corpus
from benchmarks.faults.crash import POLL_SECONDS, answers, command, generations, kill_at, lock_is_free
from index.build import build_index
from index.embedding import load_embedder
from index.errors import IndexError_, IndexMissing
from index.store import CURRENT, load_index

# The killed process: the CLI with a publication after every batch, so intermediate generations abound.
CHILD = "import sys, index.build as b; b.DEEP_PUBLISH_SECONDS = 0.0; from assistant.cli import main; main()"


@dataclass
class Scenario:
    kind: str  # "build" or "update"
    corpus: Path
    start: Path | None  # the index the run starts from (None: no index yet)
    start_answers: list[dict] | None
    full: Path  # the same corpus built without interruption, deep layer complete
    fast_answers: list[dict]  # what the fast layer alone answers for this corpus
    full_answers: list[dict]


def dalil_index(corpus: Path, index_dir: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", CHILD, "index", str(corpus), "--index-dir", str(index_dir),
                             "--deep-model", "e5"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def deep_rows(index_dir: Path) -> dict[str, tuple[np.ndarray, ...]]:
    """Each done passage's deep vectors by chunk id: (passage, its sentences, their fast vectors)."""
    index = load_index(index_dir)
    deep, fast = index.deep, index.sentences
    return {chunk.id: (deep.passages[i], deep.sentences[deep.rows_for(i)],
                       fast.matrix(index.dim, np.arange(fast.offsets[i], fast.offsets[i + 1]))[0])
            for i, chunk in enumerate(index.chunks) if deep.done[i]}


def same_rows(got: dict, full: dict) -> bool:
    return all(key in full and all(np.allclose(a, b, atol=1e-5) for a, b in zip(rows, full[key], strict=True))
               for key, rows in got.items())


def state_after_kill(scenario: Scenario, index_dir: Path, embedders, asked: list[str]) -> tuple[str, int]:
    """(state, passages done): "missing", "fast", "partial", "complete", or what is wrong."""
    try:
        index = load_index(index_dir)
    except IndexMissing:
        return ("missing" if scenario.start is None else "damaged: index missing"), 0
    except IndexError_ as err:
        return f"damaged: {err}", 0
    done = int(index.deep.done.sum()) if index.deep is not None else 0
    if scenario.start is not None and _generation(index_dir) == _generation(scenario.start):
        return ("before" if answers(index_dir, embedders[0], asked, embedders[1]) == scenario.start_answers
                else "damaged: the starting index answers differently"), done
    if index.deep is None or not same_rows(deep_rows(index_dir), deep_rows(scenario.full)):
        return "damaged: deep rows differ from an uninterrupted build", done
    got = answers(index_dir, embedders[0], asked, embedders[1])
    if done == 0:
        return ("fast" if got == scenario.fast_answers else "damaged: answers differ from the fast layer's"), 0
    if index.deep.complete:
        return ("complete" if got == scenario.full_answers else "damaged: answers differ"), done
    return "partial", done


def _generation(index_dir: Path) -> str:
    return (index_dir / CURRENT).resolve().name


def recover(scenario: Scenario, index_dir: Path, embedders, asked: list[str], done: int) -> str:
    """The next build embeds only what is not done, completes, and answers like the uninterrupted build."""
    fast, deep = embedders
    try:
        report = build_index([scenario.corpus], index_dir, fast, deep_embedder=deep)
    except IndexError_ as err:
        return f"next build failed: {err}"
    index = load_index(index_dir)
    if not index.deep.complete:
        return "next build left the deep layer incomplete"
    # Resuming: a passage that was done is not embedded again (an update run also re-embeds changed files).
    if scenario.kind == "build" and report.deep_embedded != len(index.chunks) - done:
        return f"next build embedded {report.deep_embedded} passages, expected {len(index.chunks) - done}"
    leftovers = generations(index_dir) - {_generation(index_dir)}
    if leftovers:
        return f"left behind: {sorted(leftovers)}"
    return "ok" if answers(index_dir, fast, asked, deep) == scenario.full_answers else "answers differ"


def trial(scenario: Scenario, work: Path, delay: float, embedders, asked: list[str],
          from_first_publish: bool = False) -> dict:
    index_dir = work / f"ix-{scenario.kind}"
    shutil.rmtree(index_dir, ignore_errors=True)
    if scenario.start is not None:
        shutil.copytree(scenario.start, index_dir, symlinks=True)
    landed = kill_at(scenario, index_dir, delay, from_first_publish, start=dalil_index)
    state, done = state_after_kill(scenario, index_dir, embedders, asked)
    lock_free = lock_is_free(index_dir)
    recovery = recover(scenario, index_dir, embedders, asked, done)
    return {"kind": scenario.kind, "delay_ms": round(delay * 1000), "landed": landed, "state": state,
            "done": done, "lock_free": lock_free, "recovery": recovery,
            "ok": not state.startswith("damaged") and lock_free and recovery == "ok"}


def reference_run(scenario: Scenario, probe: Path) -> tuple[float, float]:
    """An uninterrupted run's seconds: in all, and until its first generation appeared."""
    old = generations(probe)
    started = time.monotonic()
    process, first = dalil_index(scenario.corpus, probe), None
    while process.poll() is None:
        if first is None and generations(probe) - old:
            first = time.monotonic() - started
        time.sleep(POLL_SECONDS)
    if process.returncode != 0:
        raise SystemExit("the reference `dalil index` run failed")
    whole = time.monotonic() - started
    return whole, whole if first is None else first


def scenarios(work: Path, articles: int, embedders, asked: list[str]) -> list[Scenario]:
    """A first build, and an in-place update of that complete index, with their reference states."""
    fast, deep = embedders
    tenth = max(1, articles // 10)
    corpus_a, live = write_corpus(work / "corpus-a", articles), write_corpus(work / "corpus-live", articles)
    build_index([live], work / "full-a", fast, deep_embedder=deep)
    answers_a = answers(work / "full-a", fast, asked, deep)
    # The update, in the same folder: the first tenth removed, the next changed, a tenth added.
    for number in range(tenth):
        next(live.glob(f"*_{number:04d}.txt")).unlink()
    write_corpus(live, tenth, changed=frozenset(range(tenth, 2 * tenth)), start=tenth)
    write_corpus(live, tenth, start=articles)
    shutil.copytree(work / "full-a", work / "full-b", symlinks=True)
    build_index([live], work / "full-b", fast, deep_embedder=deep)  # unchanged files keep their deep rows
    for name, corpus in (("a", corpus_a), ("b", live)):
        build_index([corpus], work / f"fast-{name}", fast)
    build_index([corpus_a], work / "full-first", fast, deep_embedder=deep)
    build_a = Scenario("build", corpus_a, None, None, work / "full-first", answers(work / "fast-a", fast, asked),
                       answers(work / "full-first", fast, asked, deep))
    update = Scenario("update", live, work / "full-a", answers_a, work / "full-b",
                      answers(work / "fast-b", fast, asked), answers(work / "full-b", fast, asked, deep))
    return [build_a, update]


def run(work: Path, articles: int, kills: int, kinds: tuple[str, ...] = ("build", "update"),
        from_first_publish: bool = False) -> dict:
    """Kills spread over the whole run, or with ``from_first_publish`` over the time after its first generation
    appears (the fast layer's publish: the deep fill is then all that is left, as a small run's start-up would
    otherwise take most of the kills)."""
    embedders = (load_embedder("use"), load_embedder("e5"))
    tenth = max(1, articles // 10)
    asked = questions([0, tenth + 1, articles, articles // 2, 1, articles - 1])
    results = []
    for scenario in [s for s in scenarios(work, articles, embedders, asked) if s.kind in kinds]:
        probe = work / "probe"
        shutil.rmtree(probe, ignore_errors=True)
        if scenario.start is not None:
            shutil.copytree(scenario.start, probe, symlinks=True)
        whole, first = reference_run(scenario, probe)
        window = whole - first if from_first_publish else whole
        for i in range(kills):
            results.append(trial(scenario, work, window * (i + 0.5) / kills, embedders, asked, from_first_publish)
                           | {"run_s": whole, "first_publish_s": first})
    states = sorted({r["state"] for r in results})
    return {"articles": articles, "kills": len(results), "failures": sum(not r["ok"] for r in results),
            "states": {s: sum(r["state"] == s for r in results) for s in states},
            "partial_done": sorted(r["done"] for r in results if r["state"] == "partial"),
            "trials": results}


def main() -> None:
    command("faults_deep_crash", __doc__, run, kills=10, articles=40, kinds=("build", "update"))


if __name__ == "__main__":
    main()
