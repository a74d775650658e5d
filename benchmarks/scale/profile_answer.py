"""Where a warm answer spends its time: each step of Assistant.answer timed alone, medians over questions.

Run:  .venv/bin/python benchmarks/scale/profile_answer.py --index-dir DIR [--questions 200]
The questions are derived from the index's own titles, as in run.py. Steps are timed by calling the same
functions answer() calls, one at a time, so their sum is close to (not exactly) the answer's total.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def timed(times: dict[str, list[float]], name: str, call):
    started = time.perf_counter()
    result = call()
    times.setdefault(name, []).append((time.perf_counter() - started) * 1000)
    return result


def profile(assistant, question: str, times: dict[str, list[float]]) -> None:
    """One question, step by step (the order of Assistant.answer)."""
    from assistant import answering
    from index.lexical import tokenise

    fast = timed(times, "embed_fast", lambda: assistant.embedder.embed_query(question))
    deep = None
    if assistant.deep_embedder is not None:
        deep = timed(times, "embed_deep", lambda: assistant.deep_embedder.embed_query(question))
    k = max(assistant.settings.top_k, answering.ANSWER_PASSAGES)
    hits = timed(times, "retrieve", lambda: assistant.retriever.search(question, k=k, query_vector=fast,
                                                                       deep_vector=deep))
    timed(times, "bm25_alone", lambda: assistant.index.lexical.scores(tokenise(question)))
    timed(times, "dense_alone", lambda: assistant.index.dense_search(fast, k))
    coverage = assistant.index.lexical.coverage(tokenise(question))
    timed(times, "answer_step", lambda: answering.rank_sentences(question, hits, assistant.embedder, fast, coverage,
                                                                 assistant.index.deep, deep, assistant.index.sentences))
    timed(times, "answer_total", lambda: assistant.answer(question))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--questions", type=int, default=200)
    args = parser.parse_args()
    import corpus

    from assistant.qa import Assistant
    from assistant.settings import Settings

    assistant = Assistant.open(Settings.load(index_dir=args.index_dir))
    index = assistant.index
    titles = [{"title": index.chunks[i].title} for i in range(0, len(index.chunks), max(1, len(index.chunks) // 5000))]
    questions = corpus.questions_from_titles(titles, args.questions)
    for question in questions[:10]:
        assistant.answer(question)
    times: dict[str, list[float]] = {}
    for question in questions:
        profile(assistant, question, times)
    deep = index.deep
    print(json.dumps({"passages": len(index.chunks), "load": os.getloadavg()[0],
                      "deep_done": None if deep is None else int(deep.done.sum()),
                      "median_ms": {name: round(statistics.median(v), 2) for name, v in times.items()},
                      "p95_ms": {name: round(sorted(v)[int(0.95 * len(v)) - 1], 2) for name, v in times.items()}},
                     indent=1))


if __name__ == "__main__":
    main()
