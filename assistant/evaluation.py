"""Scoring the assistant against gold answers: ``load_gold`` and ``evaluate(gold, assistant) -> Report``."""

import fnmatch
import hashlib
import json
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from assistant import answering, evidence, metrics, retrieval
from assistant.qa import Assistant
from assistant.records import Answer
from index.errors import InputError
from index.normalise import is_arabic

DEFAULT_KS = (1, 5, 10)
MRR_DEPTH = 10  # mrr@10 looks at the top 10 passages whatever ``ks`` holds
LANGUAGES = ("arabic", "other")
Progress = Callable[[int, int], None]


class GoldError(InputError):
    """A gold file that cannot be read as questions with answers."""


@dataclass(frozen=True)
class GoldQuestion:
    """One gold question: what is asked, the answer strings that count, and where the answer is."""

    id: str
    question: str
    answers: tuple[str, ...]
    source: str | None = None
    answerable: bool = True
    line: int = 0
    context: str | None = None  # the gold paragraph, when the file gives one (XQuAD does)


@dataclass
class Report:
    """Metrics overall, by question language and by source group, the run's config, and every question."""

    metrics: dict
    by_language: dict
    config: dict
    questions: list[dict]
    by_group: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        data = {"metrics": self.metrics, "by_language": self.by_language, "config": self.config,
                "questions": self.questions}
        if self.by_group:
            data["by_group"] = self.by_group
        if self.notes:
            data["notes"] = self.notes
        return data


def load_gold(path: Path, max_question_chars: int | None = None) -> list[GoldQuestion]:
    """Read a JSONL gold file; the first bad line raises ``GoldError`` naming it (blank lines are skipped).

    Args:
        path: the gold file (format: ../shared/data/README.md).
        max_question_chars: when given, longer questions are refused here, before any work starts.
    Returns:
        The questions in file order.
    """
    try:
        lines = Path(path).read_text(encoding="utf-8-sig").splitlines()  # a BOM is read past, as in articles
    except (OSError, UnicodeDecodeError) as err:
        raise GoldError(f"Cannot read the gold file {path}: {err}.", "Give a UTF-8 JSONL file.") from None
    gold, seen = [], {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        item = _parse_line(line, path, number, max_question_chars)
        if item.id in seen:
            raise GoldError(f"{path} line {number}: id '{item.id}' repeats line {seen[item.id]}.",
                            "Give every question its own id.")
        seen[item.id] = number
        gold.append(item)
    if not gold:
        raise GoldError(f"{path} holds no questions.", "Write one JSON object per line (see docs/quality.md).")
    return gold


def _parse_line(line: str, path: Path, number: int, max_chars: int | None) -> GoldQuestion:
    def bad(problem: str) -> GoldError:
        return GoldError(f"{path} line {number}: {problem}.",
                         'Each line must be like {"id": "q1", "question": "...", "answers": ["..."]}.')

    try:
        row = json.loads(line)
    except json.JSONDecodeError as err:
        raise bad(f"not valid JSON ({err.msg} at column {err.colno})") from None
    if not isinstance(row, dict):
        raise bad("not a JSON object")
    qid, question, answers = row.get("id"), row.get("question"), row.get("answers")
    if not isinstance(qid, str | int) or isinstance(qid, bool) or not str(qid).strip():
        raise bad("'id' is missing or not a string")
    if not isinstance(question, str) or not question.strip():
        raise bad("'question' is missing or empty")
    if max_chars is not None and len(question.strip()) > max_chars:
        raise bad(f"the question is {len(question.strip()):,} characters long; the limit is {max_chars:,}")
    if not isinstance(answers, list) or not all(isinstance(a, str) and a.strip() for a in answers):
        raise bad("'answers' must be a list of non-empty strings (empty list when unanswerable)")
    source = row.get("source")
    if source is not None and not isinstance(source, str):
        raise bad("'source' must be a file name or null")
    context = row.get("context")
    if context is not None and not isinstance(context, str):
        raise bad("'context' must be the answer's paragraph or null")
    answerable = row.get("answerable", bool(answers))
    if not isinstance(answerable, bool):
        raise bad("'answerable' must be true or false")
    if answerable != bool(answers):
        raise bad("'answerable' is true but 'answers' is empty" if answerable
                  else "'answerable' is false but 'answers' is not empty")
    return GoldQuestion(str(qid).strip(), question.strip(), tuple(answers), source or None, answerable, number,
                        context or None)


def evaluate(gold: Sequence[GoldQuestion], assistant: Assistant, ks: Sequence[int] = DEFAULT_KS,
             progress: Progress | None = None, groups: dict[str, list[str]] | None = None) -> Report:
    """Ask every gold question and score retrieval, answers, citations, abstention and latency.

    Args:
        gold: questions from ``load_gold``.
        assistant: the assistant to measure, with its index loaded.
        ks: the k of hit@k and source@k.
        progress: called with (done, total) after each question.
        groups: named lists of glob patterns on the gold ``source``; each adds a ``by_group`` breakdown.
    Returns:
        The ``Report``; its ``config`` holds the assistant's settings and the corpus fingerprint.
    """
    ks = sorted(set(ks))
    depth = max(max(ks), MRR_DEPTH)
    rows = []
    for done, item in enumerate(gold, start=1):
        started = time.perf_counter()
        answer = assistant.answer(item.question, k=depth)
        rows.append(score_question(item, answer, (time.perf_counter() - started) * 1000))
        if progress:
            progress(done, len(gold))
    by_group = {name: summarise([r for r in rows if _in_group(r["source"], patterns)], ks)
                for name, patterns in (groups or {}).items()}
    return Report(metrics=summarise(rows, ks),
                  by_language={lang: summarise([r for r in rows if r["language"] == lang], ks) for lang in LANGUAGES},
                  config=run_config(assistant, ks, groups), questions=rows, by_group=by_group,
                  notes=missing_sources(gold, assistant))


def score_question(item: GoldQuestion, answer: Answer, latency_ms: float) -> dict:
    """One question's row of the report: what the assistant said and how it scored."""
    passages = [hit.chunk.text for hit in answer.hits]
    numbers = [c.n for c in answer.citations]
    spoken = metrics.strip_markers(answer.answer)
    answered = item.answerable and not answer.abstained
    return {
        "id": item.id,
        "question": item.question,
        "language": "arabic" if is_arabic(item.question) else "other",
        "answerable": item.answerable,
        "gold_answers": list(item.answers),
        "source": item.source,
        "answer": answer.answer,
        "abstained": answer.abstained,
        "citations": [{"n": c.n, "source": c.source, "title": c.title, "sentence": c.sentence,
                       "score": c.score, "has_answer": metrics.contains_answer(c.text, item.answers)}
                      for c in answer.citations],
        "first_hit_rank": metrics.first_hit_rank(passages, item.answers) if item.answerable else None,
        "source_rank": metrics.source_rank([hit.chunk.source for hit in answer.hits], item.source),
        "passage_rank": metrics.passage_rank(passages, item.context, item.answers) if item.context else None,
        "has_context": bool(item.context),
        # Answer metrics are None for an unanswerable question (abstention scores those) and False/0 for
        # an abstained answer to an answerable one, whatever passages it lists.
        "answer_hit": _when(item, answered and metrics.contains_answer(spoken, item.answers)),
        "answer_f1": _when(item, round(metrics.best_f1(spoken, item.answers), 4) if answered else 0.0),
        "exact_match": _when(item, answered and metrics.exact_match(spoken, item.answers)),
        "citation_ok": _when(item, answered and metrics.citation_ok(
            answer.answer, [c.text for c in answer.citations], numbers, item.answers)),
        "markers_ok": metrics.markers_resolve(answer.answer, numbers),
        "latency_ms": round(latency_ms, 2),
        **({"generated": answer.generated, "notice": answer.notice} if answer.llm else {}),
    }


def _when(item: GoldQuestion, value: bool | float) -> bool | float | None:
    return value if item.answerable else None


def summarise(rows: Sequence[dict], ks: Sequence[int] = DEFAULT_KS) -> dict:
    """The metrics over some report rows (answer metrics over the answerable ones; None when undefined)."""
    answerable = [r for r in rows if r["answerable"]]
    sourced = [r for r in answerable if r["source"]]
    with_context = [r for r in answerable if r.get("has_context")]
    latencies = [r["latency_ms"] for r in rows]

    def share(subset: Sequence[dict], test: Callable[[dict], bool]) -> float | None:
        return _round(metrics.mean([float(test(r)) for r in subset]))

    out: dict = {"questions": len(rows), "answerable": len(answerable), "unanswerable": len(rows) - len(answerable)}
    for k in ks:
        out[f"hit@{k}"] = share(answerable, lambda r, k=k: metrics.hit_at(r["first_hit_rank"], k))
    out[f"mrr@{MRR_DEPTH}"] = _round(metrics.mean([metrics.reciprocal_rank(r["first_hit_rank"], MRR_DEPTH)
                                                   for r in answerable]))
    for k in ks:
        out[f"source@{k}"] = share(sourced, lambda r, k=k: metrics.hit_at(r["source_rank"], k))
    if with_context:  # the stricter check: the gold paragraph itself was retrieved (BASELINES' gold@k)
        for k in ks:
            out[f"passage@{k}"] = share(with_context, lambda r, k=k: metrics.hit_at(r["passage_rank"], k))
    out["answer_hit"] = share(answerable, lambda r: r["answer_hit"])
    out["answer_f1"] = _round(metrics.mean([r["answer_f1"] for r in answerable]))
    out["exact_match"] = share(answerable, lambda r: r["exact_match"])
    out["citation_ok"] = share(answerable, lambda r: r["citation_ok"])
    out["markers_ok"] = share(rows, lambda r: r["markers_ok"])
    scores = metrics.abstention_scores([r["answerable"] for r in rows], [r["abstained"] for r in rows])
    out.update({name: _round(value) for name, value in scores.items()})
    out["latency_p50_ms"] = _round(metrics.percentile(latencies, 50), 1)
    out["latency_p95_ms"] = _round(metrics.percentile(latencies, 95), 1)
    return out


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def _in_group(source: str | None, patterns: list[str]) -> bool:
    return bool(source) and any(fnmatch.fnmatchcase(source, pattern) for pattern in patterns)


def missing_sources(gold: Sequence[GoldQuestion], assistant: Assistant) -> list[str]:
    """A note when gold sources name files the index does not hold (source@k cannot count them)."""
    indexed = {chunk.source for chunk in assistant.index.chunks}
    wanted = {item.source for item in gold if item.source}
    missing = sorted(s for s in wanted if not any(metrics.same_source(found, s) for found in indexed))
    if not missing:
        return []
    shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
    return [f"{len(missing)} gold source file(s) are not in the index: {shown}"]


def run_config(assistant: Assistant, ks: Sequence[int], groups: dict[str, list[str]] | None = None) -> dict:
    """What produced the figures: embedder, k, fusion and answer settings, corpus, version and commit."""
    manifest = assistant.index.manifest
    return {
        "embedder": manifest.get("embedder", {}),
        "deep": manifest.get("deep"),
        "k": list(ks),
        "top_k": assistant.settings.top_k,
        "fusion": {"lexical_weight": retrieval.LEXICAL_WEIGHT, "type_boost": retrieval.TYPE_BOOST,
                   "deep_passage_weight": retrieval.DEEP_PASSAGE_WEIGHT,
                   "deep_sentence_weight": retrieval.DEEP_SENTENCE_WEIGHT,
                   "fast_weight_beside_deep": retrieval.FAST_WEIGHT_BESIDE_DEEP,
                   "fast_sentence_weight": retrieval.FAST_SENTENCE_WEIGHT,
                   "rerank_weight": answering.RERANK_WEIGHT},
        "answer": {"answer_passages": answering.ANSWER_PASSAGES, "max_answer_chars": answering.MAX_ANSWER_CHARS,
                   "min_sentence_chars": answering.MIN_SENTENCE_CHARS,
                   "passage_weight": answering.PASSAGE_WEIGHT, "overlap_weight": answering.OVERLAP_WEIGHT,
                   "type_weight": answering.TYPE_WEIGHT,
                   "fast_sentence_weight_beside_deep": answering.FAST_WEIGHT_BESIDE_DEEP,
                   "min_strength": evidence.MIN_STRENGTH},
        "corpus": corpus_summary(manifest),
        "groups": groups or {},
        "dalil_version": _dalil_version(),
        "git_commit": git_commit(),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def corpus_summary(manifest: dict) -> dict:
    """Counts, chunking and a fingerprint of the indexed files (by source name and content hash)."""
    files = sorted((record["source"], record["sha256"]) for record in manifest.get("files", {}).values())
    digest = hashlib.sha256("\n".join(f"{source}\t{sha}" for source, sha in files).encode()).hexdigest()
    return {"fingerprint": digest[:16], "files": len(files), **manifest.get("counts", {}),
            "chunking": manifest.get("chunking", {}), "normaliser_version": manifest.get("normaliser_version")}


def _dalil_version() -> str | None:
    try:
        return metadata.version("dalil")
    except metadata.PackageNotFoundError:
        return None


def git_commit() -> str | None:
    """The checked-out commit of the code being measured, with '+dirty' for uncommitted changes; or None."""
    repo = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True,
                                timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo,
                               capture_output=True, text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "") if commit else None
