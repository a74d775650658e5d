"""A question's two embeddings: e5 on one thread or on every core, and the two encoders in sequence or at once
(Assistant.embed). Variants alternate question by question, so machine load hits them alike.

Run:  .venv/bin/python benchmarks/scale/query_threads.py [--rounds 20] [--index-dir DIR [--questions 200]]
Prints medians in ms and the ratios; the questions are written here (no corpus needed). With --index-dir (an
index with a deep layer) it also times whole warm answers three ways (whole_answers), on questions made from the
index's titles.
"""

import argparse
import json
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from index.embedding import E5Embedding, cpu_count, load_embedder, one_blas_thread  # noqa: E402

QUESTIONS = [
    "What guarantees did Washington offer Algeria?",
    "من هو المسؤول الأمريكي الذي زار الجزائر؟",
    "Whose deputy is the visiting US official?",
    "How many people died in the floods in the north of the country last week?",
    "ما هي المدينة التي استضافت القمة الاقتصادية هذا العام؟",
    "When did the two countries cut their diplomatic relations?",
]


def e5_on_all_cores(e5: E5Embedding, question: str):
    """e5 with a question's products split on as many threads as cores."""
    return e5._engine.embed([question], "query: ", cpu_count()).reshape(e5.dim)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--index-dir", type=Path, help="also time whole answers on this index")
    parser.add_argument("--questions", type=int, default=200)
    args = parser.parse_args()
    if args.index_dir:
        print(json.dumps(whole_answers(args.index_dir, args.questions), indent=2))
    use, e5 = load_embedder("use"), E5Embedding()
    one_blas_thread()
    pool = ThreadPoolExecutor(1)

    def overlapped(question: str):
        deep = pool.submit(e5.embed_query, question)
        return use.embed_query(question), deep.result()

    variants = {
        "e5_one_thread": e5.embed_query,
        "e5_all_cores": lambda q: e5_on_all_cores(e5, q),
        "use": use.embed_query,
        "sequence_all_cores": lambda q: (use.embed_query(q), e5_on_all_cores(e5, q)),
        "overlapped_one_thread": overlapped,
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    for question in QUESTIONS:  # warm-up
        for call in variants.values():
            call(question)
    for _ in range(args.rounds):
        for question in QUESTIONS:
            for name, call in variants.items():
                started = time.perf_counter()
                call(question)
                times[name].append((time.perf_counter() - started) * 1000)
    medians = {name: round(statistics.median(values), 2) for name, values in times.items()}
    print(json.dumps({
        "cores": cpu_count(), "questions": len(QUESTIONS) * args.rounds, "median_ms": medians,
        "e5_one_thread / e5_all_cores": round(medians["e5_one_thread"] / medians["e5_all_cores"], 3),
        "overlapped / sequence": round(medians["overlapped_one_thread"] / medians["sequence_all_cores"], 3),
    }, indent=2))


def whole_answers(index_dir: Path, count: int) -> dict:
    """Warm answers on ``index_dir``, alternating question by question: the question embedded in sequence
    (e5 on every core), the two embeddings at once and then the search, and as now (Assistant.answer: the
    fast search runs while e5 embeds)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import corpus

    from assistant.qa import Assistant
    from assistant.retrieval import resolved
    from assistant.settings import Settings

    assistant = Assistant.open(Settings.load(index_dir=index_dir))
    if assistant.deep_embedder is None:
        raise SystemExit(f"{index_dir} has no deep layer: nothing to compare")
    index = assistant.index
    step = max(1, len(index.chunks) // 5000)
    titles = [{"title": index.chunks[i].title} for i in range(0, len(index.chunks), step)]
    questions = corpus.questions_from_titles(titles, count)
    embed_deep, select = assistant._embed_deep, assistant.select

    def waiting_select(question, k, query_vector, timings=None, deep_vector=None):
        return select(question, k, query_vector, timings, resolved(deep_vector))

    variants = {  # name: (the deep embedding, the search)
        "sequence_all_cores": (lambda text: e5_on_all_cores(assistant.deep_embedder, text), select),
        "embeddings_at_once": (embed_deep, waiting_select),
        "search_during_e5": (embed_deep, select),
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    for question in questions[:10]:
        assistant.answer(question)
    for question in questions:
        for name, (assistant._embed_deep, assistant.select) in variants.items():
            started = time.perf_counter()
            assistant.answer(question)
            times[name].append((time.perf_counter() - started) * 1000)
    assistant._embed_deep, assistant.select = embed_deep, select
    medians = {name: round(statistics.median(values), 2) for name, values in times.items()}
    p95 = {name: round(sorted(values)[int(0.95 * (len(values) - 1))], 2) for name, values in times.items()}
    return {"index": str(index_dir), "passages": len(index.chunks), "answers": len(questions),
            "answer_median_ms": medians, "answer_p95_ms": p95,
            "at once / sequence": round(medians["embeddings_at_once"] / medians["sequence_all_cores"], 3),
            "search during e5 / at once": round(medians["search_during_e5"] / medians["embeddings_at_once"], 3)}


if __name__ == "__main__":
    main()
