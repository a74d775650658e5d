"""Threads or processes for USE on this machine: passages/s of each variant on the same news passages.

Run:  .venv/bin/python benchmarks/scale/embed_workers.py [--passages 2000] [--rounds 2]
Variants alternate within each round, so a change in machine load hits them alike; medians are printed.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus  # noqa: E402

from index import parallel_embed  # noqa: E402
from index.chunking import chunk_article  # noqa: E402
from index.embedding import USEEmbedding  # noqa: E402
from index.records import Article  # noqa: E402


def passages(count: int) -> list[str]:
    texts: list[str] = []
    for i, row in enumerate(corpus.read_articles(corpus.NEWS, count)):
        texts += [c.text for c in chunk_article(Article(str(i), "news", row["title"], row["text"]))]
        if len(texts) >= count:
            break
    return texts[:count]


def rate(texts: list[str], embed) -> float:
    started = time.perf_counter()
    embed(texts)
    return len(texts) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    texts = passages(args.passages)
    one, two = USEEmbedding(threads=1), USEEmbedding(threads=2)
    variants = {
        "1 process, 1 BLAS thread": lambda t: parallel_embed.embed(t, one, workers=1),
        "1 process, 2 BLAS threads": lambda t: parallel_embed.embed(t, two, workers=1),
        "2 processes, 1 BLAS thread each": lambda t: parallel_embed.embed(t, one, workers=2),
    }
    rates: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, embed in variants.items():
            rates[name].append(rate(texts, embed))
    print(json.dumps({"passages": len(texts), "load": os.getloadavg(),
                      "passages_per_s": {k: round(statistics.median(v)) for k, v in rates.items()},
                      "all": {k: [round(x) for x in v] for k, v in rates.items()}}, indent=1))


if __name__ == "__main__":
    main()
