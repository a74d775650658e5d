"""Index build time and `dalil ask` latency, cold (new process) and warm (in-process), as medians.

Run:  .venv/bin/python benchmarks/ask_latency.py [--corpus PATH ...] [--embed-model use]
Default corpus: seeds/ plus ../shared/data/xquad/corpus_ar (read in place, never copied).
The machine is shared and noisy: every figure is the median of several runs.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

QUESTIONS = [
    "What guarantees did Washington offer Algeria?",
    "ما هي الضمانات التي قدمتها واشنطن للجزائر؟",
    "Who is the US official who visited Algeria?",
    "منذ متى قطعت الجزائر علاقاتها مع المغرب؟",
    "What does Washington fear in the Maghreb?",
]


def dalil(*args: str) -> float:
    """Wall time of one `dalil` command, in seconds."""
    started = time.perf_counter()
    subprocess.run([str(REPO / ".venv" / "bin" / "dalil"), *args], check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", nargs="*", type=Path,
                        default=[REPO / "seeds", REPO.parent / "shared" / "data" / "xquad" / "corpus_ar"])
    parser.add_argument("--embed-model", default="use")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from assistant.qa import Assistant
    from assistant.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        builds = [dalil("index", *map(str, args.corpus), "--index-dir", f"{tmp}/ix", "--rebuild",
                        "--embed-model", args.embed_model) for _ in range(args.runs)]
        unchanged = [dalil("index", *map(str, args.corpus), "--index-dir", f"{tmp}/ix") for _ in range(args.runs)]
        cold = [dalil("ask", QUESTIONS[i % len(QUESTIONS)], "--index-dir", f"{tmp}/ix") for i in range(args.runs * 2)]
        assistant = Assistant.open(Settings.load(index_dir=Path(tmp) / "ix"))
        assistant.answer(QUESTIONS[0])  # first call loads lazy parts of the model
        warm = []
        for _ in range(10):
            for question in QUESTIONS:
                started = time.perf_counter()
                assistant.answer(question)
                warm.append((time.perf_counter() - started) * 1000)
        passages = len(assistant.index.chunks)
    result = {
        "corpus": [str(p) for p in args.corpus], "embedder": args.embed_model, "passages": passages,
        "index_build_s_median": round(statistics.median(builds), 2),
        "reindex_unchanged_s_median": round(statistics.median(unchanged), 2),
        "ask_cold_s_median": round(statistics.median(cold), 2),
        "ask_warm_ms_p50": round(statistics.median(warm), 1),
        "ask_warm_ms_p95": round(sorted(warm)[int(0.95 * len(warm)) - 1], 1),
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
