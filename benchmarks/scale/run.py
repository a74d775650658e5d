"""Speed and scale benchmark: build, re-index, add one, warm and HTTP query latency, cold starts, per size.

Run (one command, everything):
    .venv/bin/python benchmarks/scale/run.py [--sizes 1000 5000 10000 20000] [--out benchmarks/results/scale]
Reads ../shared/data/news_ar/articles.jsonl in place (timing only; nothing from it is written into the
repo). Writes scale.json, scale.md and scale.png to --out. The machine is shared: record the load and
compare variants within one run. Not a timed test: tests/test_scale_smoke.py runs it on 50 articles.
"""

import argparse
import datetime
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus  # noqa: E402
import measure  # noqa: E402
import report  # noqa: E402


def bench_size(rows: list[dict], questions: list[str], work: Path, cold_runs: int, deep_model: str) -> dict:
    """Every figure for one corpus size, on a fresh index (so no embedding cache is warm)."""
    source = corpus.write_subset(rows, work / "corpus")
    index_dir = work / "index"
    layers = ["--index-dir", str(index_dir), "--deep-model", deep_model]
    answering = measure.first_publish(index_dir)
    build = measure.run("index", str(source), *layers)
    answers_after = answering()
    passages = json.loads((index_dir / "current" / "manifest.json").read_text())["counts"]["passages"]
    unchanged = measure.run("index", str(source), *layers)
    added = measure.run("index", str(source), str(corpus.new_article(work / "new")), *layers)
    assert "(1 added, 0 changed, 0 removed" in added.stdout, added.stdout  # only the new file was new
    result = {
        "articles": len(rows), "passages": passages,
        "build": {"seconds": round(build.seconds, 2), "passages_per_s": round(passages / build.seconds, 1),
                  "answers_after_s": round(answers_after, 2) if answers_after is not None else None,
                  "peak_rss_mb": round(build.peak_tree_rss_mb, 1),
                  "main_process_peak_rss_mb": round(build.peak_rss_mb, 1)},
        "index_mb": measure.folder_mb(index_dir / "current"),
        "reindex_unchanged_s": round(unchanged.seconds, 2), "add_one_s": round(added.seconds, 2),
        "cold_ask": measure.cold_asks(index_dir, questions, cold_runs),
        "warm": measure.warm_queries(index_dir, questions),
        "api": measure.serve_and_ask(index_dir, questions),
    }
    print(json.dumps({k: result[k] for k in ("articles", "passages", "build", "add_one_s")}), file=sys.stderr)
    return result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=Path, default=corpus.NEWS, help="JSONL articles to read.")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 10000, 20000])
    parser.add_argument("--questions", type=int, default=200, help="Questions derived from titles.")
    parser.add_argument("--cold-runs", type=int, default=5, help="Cold `dalil ask` runs (median reported).")
    parser.add_argument("--out", type=Path, default=measure.REPO / "benchmarks" / "results" / "scale")
    parser.add_argument("--deep-model", default="none",
                        help="Deep layer to build (index/deep.py); 'none' times the fast layer alone, which "
                             "is what answers first.")
    parser.add_argument("--keep", type=Path, help="Build in KEEP/<size> and keep it (default: a temp folder).")
    args = parser.parse_args(argv)
    if not args.articles.is_file():
        parser.error(f"{args.articles} not found: pass --articles PATH (a JSONL of articles).")
    rows = corpus.read_articles(args.articles, max(args.sizes))
    result = {"environment": dict(environment(), deep_model=args.deep_model), "questions": args.questions,
              "sizes": []}
    for size in sorted(args.sizes):
        subset = rows[:size]
        questions = corpus.questions_from_titles(subset, args.questions)
        if args.keep:
            shutil.rmtree(args.keep / str(size), ignore_errors=True)  # a fresh index: no warm cache
            result["sizes"].append(bench_size(subset, questions, args.keep / str(size), args.cold_runs,
                                              args.deep_model))
            continue
        with tempfile.TemporaryDirectory(prefix=f"dalil-scale-{size}-") as tmp:
            result["sizes"].append(bench_size(subset, questions, Path(tmp), args.cold_runs, args.deep_model))
    result["environment"]["load_after"] = _load()
    report.write(result, args.out)
    print(report.markdown(result))
    return result


def environment() -> dict:
    return {"cores": len(os.sched_getaffinity(0)), "load_before": _load(), "load_after": None,
            "embedder": os.environ.get("DALIL_EMBED_MODEL", "use"), "python": sys.version.split()[0],
            "started": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")}


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"(benchmark took {time.perf_counter() - started:.0f} s)", file=sys.stderr)
