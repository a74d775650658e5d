"""A build's USE work, one pass or two: passages then their sentences (format 5) against distinct sentences only.

Run:  .venv/bin/python benchmarks/scale/one_pass.py [--passages 2000] [--rounds 3]
Format 5 embedded every distinct passage, then every distinct sentence not already embedded as a passage
(a one-sentence passage's sentence is its passage, found in the embedding cache). Format 6 embeds the
distinct sentences and makes each passage vector from them (index/passage_vectors.py). Both run in this one
process on one BLAS thread (as each build worker does), alternating within each round; prints medians.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from embed_workers import passages  # noqa: E402

from index.embedding import USEEmbedding  # noqa: E402
from index.sentences import split_sentences  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    texts = list(dict.fromkeys(passages(args.passages)))
    pieces = [[text[start:end] for start, end in split_sentences(text)] for text in texts]
    sentences = list(dict.fromkeys(s for p in pieces for s in p))
    known = set(texts)
    work = {"two passes": texts + [s for s in sentences if s not in known], "one pass": sentences}
    embedder = USEEmbedding(threads=1)
    embedder.embed_passages(work["one pass"][:64])  # weights loaded and kept rows warmed before timing
    seconds: dict[str, list[float]] = {name: [] for name in work}
    for _ in range(args.rounds):
        for name, batch in work.items():
            started = time.perf_counter()
            for start in range(0, len(batch), 64):  # the batch size of a build's workers
                embedder.embed_passages(batch[start:start + 64])
            seconds[name].append(time.perf_counter() - started)
    medians = {name: round(statistics.median(values), 2) for name, values in seconds.items()}
    print(json.dumps({"passages": len(texts), "sentences": len(sentences),
                      "texts": {name: len(batch) for name, batch in work.items()},
                      "characters": {name: int(np.sum([len(t) for t in batch])) for name, batch in work.items()},
                      "load": os.getloadavg(), "median_s": medians,
                      "ratio": round(medians["two passes"] / medians["one pass"], 2),
                      "all": {name: [round(x, 2) for x in values] for name, values in seconds.items()}}, indent=1))


if __name__ == "__main__":
    main()
