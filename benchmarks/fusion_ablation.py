"""Fusion ablation on XQuAD with cached vectors: what each part of the ranking and sentence score adds.

Run:  .venv/bin/python benchmarks/fusion_ablation.py [--cache DIR]
Embeds the seeds + XQuAD passages, their sentences and every question once with USE and e5 (cached in
DIR, default /tmp/dalil-ablation; about 10 minutes on 2 quiet cores), then scores each configuration from
the cached vectors in seconds. This is how the weights in assistant/retrieval.py and answering.py were
tuned (on articles 00-23 only). It re-implements the scoring in vectorised form over all questions, so its
figures are close to, not identical with, `dalil eval` (which is the measure of record, docs/quality.md).
"""

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from assistant.answering import _can_answer, _weighted_overlap  # noqa: E402
from assistant.metrics import contains_answer, first_hit_rank  # noqa: E402
from assistant.question_type import carries_type, expected_type  # noqa: E402
from assistant.retrieval import best_per_passage, zscore  # noqa: E402
from index import chunking  # noqa: E402
from index.deep import sentence_offsets  # noqa: E402
from index.embedding import load_embedder  # noqa: E402
from index.lexical import LexicalIndex, question_tokens, tokenise  # noqa: E402
from index.loading import find_files, load_file  # noqa: E402
from index.passage_vectors import mean_of_sentences  # noqa: E402

DATA = REPO.parent / "shared" / "data"
# Each row adds to the one before (weights as named in assistant/retrieval.py and answering.py).
ROWS = [
    ("fast layer only: USE + BM25 (before)", dict(use_p=1.0, s_use=1.0)),
    ("e5 passage cosine instead of USE", dict(e5_p=1.0, s_use=1.0)),
    ("+ USE passage cosine beside it (0.3)", dict(e5_p=1.0, use_p=0.3, s_use=1.0)),
    ("+ e5 best-sentence cosine (0.8)", dict(e5_p=1.0, use_p=0.3, e5_smax=0.8, s_use=1.0)),
    ("+ e5 sentence cosine in the answer step", dict(e5_p=1.0, use_p=0.3, e5_smax=0.8, s_e5=1.0, s_use=0.5)),
    ("+ rerank by best sentence (0.7)", dict(e5_p=1.0, use_p=0.3, e5_smax=0.8, s_e5=1.0, s_use=0.5, rr=0.7)),
    ("+ USE best-sentence cosine (0.3) = Dalil",
     dict(e5_p=1.0, use_p=0.3, e5_smax=0.8, use_smax=0.3, s_e5=1.0, s_use=0.5, rr=0.7)),
]


def load_corpus():
    chunks = [c for path, source in find_files([REPO / "seeds", DATA / "xquad" / "corpus_ar"])
              for article in load_file(path, source).articles for c in chunking.chunk_article(article)]
    questions = [json.loads(line) for lang in ("ar", "en")
                 for line in (DATA / "xquad" / f"gold_{lang}.jsonl").read_text(encoding="utf-8").splitlines()]
    return chunks, questions


def cached_vectors(cache: Path, chunks, questions) -> dict:
    """Question, passage and sentence vectors of both encoders, embedded once."""
    cache.mkdir(parents=True, exist_ok=True)
    texts = {"p": [c.text for c in chunks], "s": [t for c in chunks for t in c.sentence_texts()]}
    vectors = {}
    for name in ("use", "e5"):
        path = cache / f"{name}.npz"
        if not path.exists():
            model = load_embedder(name)
            q = np.vstack([model.embed_query(q["question"]) for q in questions])
            np.savez(path, q=q, p=model.embed_passages(texts["p"]), s=model.embed_passages(texts["s"]))
        vectors[name] = dict(np.load(path))
        if load_embedder(name).passages_from_sentences:  # as the index stores them (index/passage_vectors.py)
            vectors[name]["p"] = mean_of_sentences(vectors[name]["s"], chunks)
    return vectors


class Scorer:
    """The ranking and sentence score of Dalil, over all questions at once, with weights as parameters."""

    def __init__(self, chunks, questions, vectors) -> None:
        self.chunks, self.questions, self.v = chunks, questions, vectors
        self.offsets = sentence_offsets(chunks)
        self.owner = np.repeat(np.arange(len(chunks)), np.diff(self.offsets))
        self.sentences = [t for c in chunks for t in c.sentence_texts()]
        self.usable = np.array([_can_answer(c, span) for c in chunks for span in c.sentences])
        self.tokens = [set(tokenise(t)) for t in self.sentences]
        lexical = LexicalIndex.build([tokenise(c.text) for c in chunks])
        self.q = []
        for i, q in enumerate(questions):
            toks = question_tokens(q["question"])  # as retrieval matches it (index/dictionary.py)
            self.q.append(dict(toks=set(toks), cov=lexical.coverage(toks), kind=expected_type(q["question"]),
                               bm=lexical.scores(toks) if toks else np.zeros(len(chunks)),
                               **{f"{n}_{k}": vectors[n][k] @ vectors[n]["q"][i] for n in vectors for k in "ps"}))
        self.carries = {kind: np.array([carries_type(kind, c.text) for c in chunks], dtype=np.float32)
                        for kind in ("number", "time")}

    def fused(self, p: dict, w: dict) -> np.ndarray:
        f = w.get("e5_p", 0) * zscore(p["e5_p"]) + w.get("use_p", 0) * zscore(p["use_p"])
        f = f + w.get("e5_smax", 0) * zscore(best_per_passage(p["e5_s"], self.offsets))
        f = f + w.get("use_smax", 0) * zscore(best_per_passage(p["use_s"], self.offsets))
        f = f + 0.5 * p["cov"] * zscore(p["bm"])
        return f + (0.5 * self.carries[p["kind"]] if p["kind"] else 0)

    def sentence_scores(self, p: dict, rows: np.ndarray, fused: np.ndarray, w: dict) -> tuple[np.ndarray, np.ndarray]:
        own = w.get("s_e5", 0) * zscore(p["e5_s"][rows]) + w.get("s_use", 0) * zscore(p["use_s"][rows])
        own = own + 1.0 * p["cov"] * zscore(_weighted_overlap(p["toks"], [self.tokens[j] for j in rows]))
        if p["kind"]:
            own = own + 2.0 * np.array([carries_type(p["kind"], self.sentences[j]) for j in rows])
        return own, own + 0.5 * zscore(fused[self.owner[rows]])

    def question(self, i: int, w: dict) -> tuple[int | None, bool]:
        p, q = self.q[i], self.questions[i]
        fused = self.fused(p, w)
        order = list(np.argsort(-fused, kind="stable"))
        top = set(order[:5])
        rows = np.array([j for j in np.flatnonzero(self.usable) if self.owner[j] in top])
        own, score = self.sentence_scores(p, rows, fused, w)
        if w.get("rr"):
            best = {c: max(own[k] for k in range(len(rows)) if self.owner[rows[k]] == c) for c in top}
            z = dict(zip(order[:5], zscore(fused[order[:5]]), strict=True))
            order = sorted(order[:5], key=lambda c: -(z[c] + w["rr"] * best.get(c, -3.0))) + order[5:]
        ranked = rows[np.argsort(-score, kind="stable")]
        chosen = [ranked[0]] + [j for j in ranked[1:] if len(self.sentences[ranked[0]]) + len(self.sentences[j]) + 8
                                <= 400][:1]
        rank = first_hit_rank([self.chunks[c].text for c in order[:10]], q["answers"])
        return rank, contains_answer(" ".join(self.sentences[j] for j in chosen), q["answers"])


def group(question: dict) -> str:
    lang = "en" if re.match(r"[A-Za-z]", question["question"]) else "ar"
    article = int(re.search(r"_(\d\d)\.txt", question["source"]).group(1))
    return f"{lang}-{'tune' if article < 24 else 'held'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/dalil-ablation"))
    args = parser.parse_args()
    chunks, questions = load_corpus()
    scorer = Scorer(chunks, questions, cached_vectors(args.cache, chunks, questions))
    groups = ["ar-tune", "ar-held", "en-tune", "en-held"]
    print("| configuration | " + " | ".join(f"{g} hit@1 / hit@5 / answer" for g in groups) + " |")
    print("|---|" + "---|" * len(groups))
    for label, weights in ROWS:
        results: dict[str, list] = {g: [] for g in groups}
        for i, q in enumerate(questions):
            rank, answered = scorer.question(i, weights)
            results[group(q)].append((rank == 1, rank is not None and rank <= 5, answered))
        cells = [" / ".join(f"{x:.3f}" for x in np.mean(results[g], axis=0)) for g in groups]
        print(f"| {label} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
