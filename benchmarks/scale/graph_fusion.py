"""Answers through the graph index against answers over every passage, on the same index and questions.

Run:  .venv/bin/python benchmarks/scale/graph_fusion.py --index-dir DIR [--questions 200] [--ef 128 256 512]
The index must be above FLAT_MAX passages (it then has a graph). For each efSearch, each title question is
answered twice: through the graph and the candidate fusion (assistant/candidates.py), and with the same
index searched exhaustively (a flat copy of its vectors, all-passage fusion). Reports the share of
questions whose top 5 passages, top passage and answer text are the same, and the median times.
"""

import argparse
import dataclasses
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def answers(assistant, questions: list[str]) -> tuple[list, float]:
    out, times = [], []
    for question in questions:
        started = time.perf_counter()
        answer = assistant.answer(question)
        times.append((time.perf_counter() - started) * 1000)
        out.append(([hit.chunk.id for hit in answer.hits[:5]], answer.answer))
    return out, round(statistics.median(times), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--ef", type=int, nargs="+", default=[128, 256, 512])
    args = parser.parse_args()
    import corpus

    from assistant.qa import Assistant
    from assistant.settings import Settings

    graphed = Assistant.open(Settings.load(index_dir=args.index_dir))
    index = graphed.index
    if not index.approximate:
        parser.error(f"{args.index_dir} has no graph index (at most FLAT_MAX passages)")
    exhaustive = Assistant(dataclasses.replace(index, faiss_index=None), graphed.embedder, graphed.settings,
                           graphed.deep_embedder)
    step = max(1, len(index.chunks) // 5000)
    questions = corpus.questions_from_titles([{"title": index.chunks[i].title}
                                              for i in range(0, len(index.chunks), step)], args.questions)
    answers(exhaustive, questions[:10])
    truth, exhaustive_ms = answers(exhaustive, questions)
    rows = []
    for ef in args.ef:
        index.faiss_index.hnsw.efSearch = ef
        answers(graphed, questions[:10])
        found, graph_ms = answers(graphed, questions)
        same = [(f[0] == t[0], f[0][:1] == t[0][:1], f[1] == t[1]) for f, t in zip(found, truth, strict=True)]
        rows.append({"efSearch": ef, "same_top5": round(sum(s[0] for s in same) / len(same), 3),
                     "same_top1": round(sum(s[1] for s in same) / len(same), 3),
                     "same_answer": round(sum(s[2] for s in same) / len(same), 3),
                     "answer_ms_graph": graph_ms, "answer_ms_exhaustive": exhaustive_ms})
        print(json.dumps(rows[-1]), flush=True)
    print(json.dumps({"passages": len(index.chunks), "load": os.getloadavg(), "rows": rows}))


if __name__ == "__main__":
    main()
