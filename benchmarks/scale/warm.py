"""Warm answers in process and through POST /api/ask on an existing index (run.py's measures, alone).

Run:  .venv/bin/python benchmarks/scale/warm.py --index-dir DIR [--questions 200]
Questions are made from the index's own titles, as in profile_answer.py. Prints JSON with the load.
"""

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--questions", type=int, default=200)
    args = parser.parse_args()
    import corpus
    import measure

    from index.store import load_index

    index = load_index(args.index_dir)
    step = max(1, len(index.chunks) // 5000)
    titles = [{"title": index.chunks[i].title} for i in range(0, len(index.chunks), step)]
    questions = corpus.questions_from_titles(titles, args.questions)
    del index
    result = {"load_before": os.getloadavg()[0], "warm": measure.warm_queries(args.index_dir, questions),
              "api": measure.serve_and_ask(args.index_dir, questions), "load_after": os.getloadavg()[0]}
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
