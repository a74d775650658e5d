"""Milvus against FAISS on XQuAD: the same top-10 passages? (dense alone, and the full hybrid ranking)

Run:  .venv/bin/python benchmarks/scale/milvus_overlap.py [--deep-model e5] [--out benchmarks/results/scale]
Indexes ../shared/data/xquad/corpus_ar (read in place) with --store milvus into a temp Milvus Lite file,
then asks every XQuAD question (Arabic and English) through the Milvus store and through FAISS over the
same index, and reports the mean overlap of their top-10s. With --deep-model e5 (the default index's deep
layer, ~1 min more to build) both sides use it: Milvus searches its deep collection too.
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
XQUAD = REPO.parent / "shared" / "data" / "xquad"
sys.path.insert(0, str(REPO))


def overlap(a: list, b: list) -> float:
    return len(set(a) & set(b)) / max(len(a), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "scale")
    parser.add_argument("--deep-model", default="none", help="'e5' to give the index its deep layer")
    args = parser.parse_args()
    from assistant.retrieval import HybridRetriever
    from index.build import build_index
    from index.embedding import load_embedder
    from index.store import load_index

    questions = [json.loads(line)["question"] for name in ("gold_ar.jsonl", "gold_en.jsonl")
                 for line in open(XQUAD / name, encoding="utf-8")]
    embedder = load_embedder("use")
    deep_embedder = None if args.deep_model == "none" else load_embedder(args.deep_model)
    with tempfile.TemporaryDirectory() as tmp:
        build_index([XQUAD / "corpus_ar"], Path(tmp) / "ix", embedder, milvus_uri=str(Path(tmp) / "m.db"),
                    deep_embedder=deep_embedder)
        index = load_index(Path(tmp) / "ix")
        milvus = HybridRetriever(index, embedder, top_k=10)
        faiss_index = load_index(Path(tmp) / "ix")
        faiss_index.dense_store = faiss_index.deep_store = None
        faiss = HybridRetriever(faiss_index, embedder, top_k=10)
        dense, hybrid, seconds = [], [], {"milvus": 0.0, "faiss": 0.0}
        for question in questions:
            vector = embedder.embed_query(question)
            deep_vector = deep_embedder.embed_query(question) if deep_embedder else None
            dense.append(overlap(index.dense_store.search(vector, 10)[0].tolist(),
                                 faiss_index.faiss_index.search(vector.reshape(1, -1), 10)[1][0].tolist()))
            ranked = {}
            for name, retriever in (("milvus", milvus), ("faiss", faiss)):
                started = time.perf_counter()
                ranked[name] = [hit.chunk.id for hit in retriever.search(question, 10, vector, deep_vector)]
                seconds[name] += time.perf_counter() - started
            hybrid.append(overlap(ranked["milvus"], ranked["faiss"]))
        result = {"questions": len(questions), "passages": len(index.chunks), "deep_model": args.deep_model,
                  "dense_top10_overlap": round(sum(dense) / len(dense), 4),
                  "hybrid_top10_overlap": round(sum(hybrid) / len(hybrid), 4),
                  "hybrid_identical_share": round(sum(h == 1.0 for h in hybrid) / len(hybrid), 4),
                  "mean_search_ms": {k: round(v / len(questions) * 1000, 2) for k, v in seconds.items()}}
    args.out.mkdir(parents=True, exist_ok=True)
    name = "milvus_overlap.json" if deep_embedder is None else f"milvus_overlap_{args.deep_model}.json"
    (args.out / name).write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
