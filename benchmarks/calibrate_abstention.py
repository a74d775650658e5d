"""Calibrate the abstention thresholds: best-sentence strength of answered vs unanswerable questions.

Run:  .venv/bin/python benchmarks/calibrate_abstention.py [--embed-model use] [--deep-model e5|none]
      [--seed-index DIR]
Question sets, each against the corpus it is about:
- the seed gold set, our own unanswerable questions (benchmarks/data/unanswerable.jsonl) and the XQuAD
  questions of articles 00-23 (the part we may tune on), over seeds + all XQuAD articles;
- the fixture questions, over the fixture articles.
Prints every unanswerable and seed question's strength, then per language pairing (the question in the
chosen sentence's script or not) the threshold that decides the most questions right; the values go into
assistant/evidence.py (MIN_STRENGTH). ``--seed-index`` reuses an index of seeds + XQuAD (building one with
the e5 deep layer takes minutes), e.g. the one benchmarks/eval_all.sh leaves in benchmarks/results/index-seed.
"""

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from assistant import evidence  # noqa: E402
from assistant.qa import Assistant, load_deep_embedder, model_name_for  # noqa: E402
from assistant.settings import Settings  # noqa: E402
from index.build import build_index  # noqa: E402
from index.embedding import load_embedder  # noqa: E402
from index.normalise import normalise  # noqa: E402
from index.store import load_index  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
SEED_CORPUS = [REPO / "seeds", SHARED / "xquad" / "corpus_ar"]
TUNE_ARTICLE = re.compile(r"xquad_ar_(0\d|1\d|2[0-3])\.txt$")


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def seed_questions(xquad_every: int) -> list[dict]:
    xquad = [q for lang in ("ar", "en") for q in read_jsonl(SHARED / "xquad" / f"gold_{lang}.jsonl")
             if TUNE_ARTICLE.search(q.get("source") or "")][::xquad_every]
    return read_jsonl(SHARED / "seed" / "gold.jsonl") + read_jsonl(REPO / "benchmarks" / "data" /
                                                                     "unanswerable.jsonl") + xquad


def rows_for(assistant: Assistant, questions: list[dict]) -> list[tuple]:
    """Per question: id, answerable, answer found in the chosen sentences, type ok, cross-language, strength."""
    rows = []
    for gold in questions:
        question = gold["question"]
        query_vector, deep_vector = assistant.embed(question)
        _, _, chosen = assistant.select(question, assistant.settings.top_k, query_vector, deep_vector=deep_vector)
        text = " ".join(c.text for c in chosen)
        found = any(normalise(a) in normalise(text) for a in gold["answers"])
        typed = evidence.carries_type(evidence.expected_type(question), text)
        cross = evidence.is_cross_language(question, chosen[0].text)
        rows.append((gold["id"], bool(gold["answers"]), found, typed, cross, evidence.strength(chosen[0])))
    return rows


def open_assistant(corpus: list[Path], index_dir: Path, embed_model: str, deep_model: str) -> Assistant:
    embedder, deep_embedder = load_embedder(embed_model), load_deep_embedder(deep_model)
    build_index(corpus, index_dir, embedder, deep_embedder=deep_embedder)
    return Assistant(load_index(index_dir), embedder, Settings(index_dir=index_dir), deep_embedder)


def reuse_assistant(index_dir: Path) -> Assistant:
    index = load_index(index_dir)
    deep = index.manifest.get("deep")
    return Assistant(index, load_embedder(model_name_for(index.manifest["embedder"]["id"])),
                     Settings(index_dir=index_dir), load_embedder(model_name_for(deep["id"])) if deep else None)


def best_threshold(labelled: list[tuple[float, bool]]) -> tuple[float, int]:
    """The midpoint between neighbouring strengths that decides the most questions right."""
    values = sorted({v for v, _ in labelled})
    middles = [(a + b) / 2 for a, b in zip(values, values[1:], strict=False)] or values
    best = max(middles, key=lambda t: sum((v >= t) == ok for v, ok in labelled))
    return best, sum((v >= best) == ok for v, ok in labelled)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embed-model", default="use")
    parser.add_argument("--deep-model", default="e5")
    parser.add_argument("--seed-index", type=Path, help="an existing index of seeds + XQuAD to reuse")
    parser.add_argument("--xquad-every", type=int, default=4,
                        help="take every Nth XQuAD question of articles 00-23 (default 4: about 160 a language)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        seed = reuse_assistant(args.seed_index) if args.seed_index else \
            open_assistant(SEED_CORPUS, Path(tmp) / "seed", args.embed_model, args.deep_model)
        fixtures = open_assistant([REPO / "tests" / "data" / "articles"], Path(tmp) / "fixtures",
                                  model_name_for(seed.embedder.model_name),
                                  model_name_for(seed.deep_embedder.model_name) if seed.deep_embedder else "none")
        fixture_questions = read_jsonl(REPO / "tests" / "data" / "questions.jsonl")
        rows = rows_for(seed, seed_questions(args.xquad_every)) + rows_for(fixtures, fixture_questions)
    for qid, answerable, found, typed, cross, value in sorted(rows, key=lambda r: r[-1]):
        if not answerable or not re.fullmatch(r"[0-9a-f]{24}", qid):  # XQuAD ids are many: not listed
            print(f"{value:6.3f}  {qid:12} answerable={answerable!s:5} found={found!s:5} type-ok={typed!s:5} "
                  f"{'cross' if cross else 'same'}-language")
    # Should answer: the chosen sentences hold the gold answer. Should abstain: unanswerable questions.
    # Answerable questions whose answer was not found are left out: abstaining on them is no mistake;
    # questions the type check already abstains on are left out too.
    for cross, name in ((False, "same-language"), (True, "cross-language")):
        labelled = [(value, found) for _, answerable, found, typed, c, value in rows
                    if c == cross and typed and (found or not answerable)]
        threshold, correct = best_threshold(labelled)
        unanswerable = sum(not ok for _, ok in labelled)
        print(f"{name}: threshold {threshold:.3f} decides {correct}/{len(labelled)} right "
              f"({unanswerable} of them unanswerable)")


if __name__ == "__main__":
    main()
