"""Showing an evaluation report: a terminal table, a Markdown summary, hit@k curves, deltas to an older report."""

import math
from pathlib import Path

from assistant.evaluation import LANGUAGES, MRR_DEPTH

WORST_MISSES = 15
# Counts are printed as integers; every other metric as a 3-decimal share or milliseconds.
COUNTS = ("questions", "answerable", "unanswerable")


def scopes(report: dict) -> dict[str, dict]:
    """The report's metric sets by column name: all, each language, each source group (empty ones left out)."""
    columns = {"all": report["metrics"]}
    columns.update({lang: report["by_language"][lang] for lang in LANGUAGES
                    if report["by_language"].get(lang, {}).get("questions")})
    columns.update({name: values for name, values in report.get("by_group", {}).items() if values.get("questions")})
    return columns


def fmt(value: object, name: str = "") -> str:
    """A metric value as a table cell: milliseconds to 0.1, shares to 0.001, counts whole."""
    if value is None:
        return "—"
    if isinstance(value, bool | int):
        return str(int(value))
    return f"{value:.1f}" if name.endswith("_ms") else f"{value:.3f}"


def metric_table(report: dict) -> list[list[str]]:
    """Rows of [metric, value per scope], the header first."""
    columns = scopes(report)
    rows = [["metric", *columns]]
    for name in report["metrics"]:
        rows.append([name, *(fmt(values.get(name), name) for values in columns.values())])
    return rows


def text_table(rows: list[list[str]]) -> str:
    """Rows as aligned plain text (first column left, the others right)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                               for i, (cell, w) in enumerate(zip(row, widths, strict=True))).rstrip()
                     for row in rows)


def markdown_table(rows: list[list[str]]) -> str:
    """Rows as a Markdown table (numbers right-aligned)."""
    header, *body = rows
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---", *["---:"] * (len(header) - 1)]) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in body]
    return "\n".join(lines)


def _cell(text: object, limit: int = 0) -> str:
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if not limit or len(text) <= limit else text[:limit].rstrip() + " …"


def worst_misses(report: dict, count: int = WORST_MISSES) -> list[dict]:
    """Answerable questions whose answer missed, worst first: no passage found, then a late first hit."""
    misses = [q for q in report["questions"] if q["answerable"] and not q["answer_hit"]]
    return sorted(misses, key=lambda q: (-(q["first_hit_rank"] or math.inf), q["answer_f1"] or 0.0))[:count]


def miss_reasons(report: dict) -> dict[str, int]:
    """Why answerable questions missed: abstained, answer not in the passages answers are taken from, or
    in them but another sentence was chosen."""
    pool = report["config"].get("answer", {}).get("answer_passages", 3)
    reasons = {"abstained": 0, f"answer not in top {pool} passages": 0, "another sentence chosen": 0}
    for q in report["questions"]:
        if not q["answerable"] or q["answer_hit"]:
            continue
        if q["abstained"]:
            reasons["abstained"] += 1
        elif q["first_hit_rank"] is None or q["first_hit_rank"] > pool:
            reasons[f"answer not in top {pool} passages"] += 1
        else:
            reasons["another sentence chosen"] += 1
    return reasons


def to_markdown(report: dict, title: str = "Dalil evaluation") -> str:
    """A readable summary: the run, the metric table, the worst misses and the wrongly answered."""
    config = report["config"]
    corpus = config.get("corpus", {})
    lines = [f"# {title}", "",
             f"- gold: `{config.get('gold', {}).get('path', '?')}`; embedder `{config['embedder'].get('id', '?')}`; "
             f"k = {config['k']}",
             f"- corpus: {corpus.get('files', '?')} files, {corpus.get('passages', '?')} passages, "
             f"fingerprint `{corpus.get('fingerprint', '?')}`",
             f"- dalil {config.get('dalil_version')} at `{config.get('git_commit')}`, {config.get('created_at')}",
             *[f"- note: {note}" for note in report.get("notes", [])],
             "", "## Metrics", "", markdown_table(metric_table(report)), ""]
    reasons = miss_reasons(report)
    if any(reasons.values()):
        lines += ["## Why answers missed", "", "| reason | questions |", "|---|---:|"]
        lines += [f"| {reason} | {count} |" for reason, count in reasons.items()]
        lines.append("")
    misses = worst_misses(report)
    if misses:
        lines += ["## Worst misses", "",
                  "Answerable questions whose answer did not contain a gold answer, no passage found first.", "",
                  "| id | rank | question | gold | answer |", "|---|---:|---|---|---|"]
        lines += [f"| {_cell(q['id'])} | {fmt(q['first_hit_rank'])} | {_cell(q['question'], 120)} | "
                  f"{_cell(' / '.join(q['gold_answers']), 60)} | {_cell(q['answer'], 160)} |" for q in misses]
        lines.append("")
    answered = [q for q in report["questions"] if not q["answerable"] and not q["abstained"]]
    if answered:
        lines += ["## Unanswerable but answered", "", "| id | question | answer |", "|---|---|---|"]
        lines += [f"| {_cell(q['id'])} | {_cell(q['question'], 120)} | {_cell(q['answer'], 160)} |"
                  for q in answered[:WORST_MISSES]]
        lines.append("")
    return "\n".join(lines)


def hit_curve(questions: list[dict], depth: int) -> list[float]:
    """hit@k for k = 1 … depth over the answerable questions."""
    ranks = [q["first_hit_rank"] for q in questions if q["answerable"]]
    if not ranks:
        return []
    return [sum(1 for r in ranks if r is not None and r <= k) / len(ranks) for k in range(1, depth + 1)]


def plot_curves(report: dict, path: Path, title: str = "hit@k") -> None:
    """Draw hit@k against k, one line for all questions and one per question language, to a PNG."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    depth = max(max(report["config"]["k"]), MRR_DEPTH)
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    series = {lang: [q for q in report["questions"] if q["language"] == lang] for lang in LANGUAGES}
    series = {name: questions for name, questions in series.items() if questions}
    if len(series) > 1:
        series = {"all": report["questions"], **series}
    for name, questions in series.items():
        curve = hit_curve(questions, depth)
        if curve:
            answerable = sum(1 for q in questions if q["answerable"])
            ax.plot(range(1, depth + 1), curve, marker="o", label=f"{name} ({answerable} q)")
    ax.set(xlabel="k (passages retrieved)", ylabel="hit@k", ylim=(0, 1.02), xticks=range(1, depth + 1), title=title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def compare(old: dict, new: dict) -> str:
    """Each metric of ``new`` beside ``old`` with the delta, per scope both reports share."""
    rows = [["metric", "old", "new", "delta"]]
    old_scopes, new_scopes = scopes(old), scopes(new)
    for scope, values in new_scopes.items():
        before = old_scopes.get(scope)
        if before is None:
            continue
        for name, value in values.items():
            prefix = "" if scope == "all" else f"{scope}/"
            rows.append([prefix + name, fmt(before.get(name), name), fmt(value, name),
                         _delta(before.get(name), value, name)])
    notes = []
    old_config, new_config = old.get("config", {}), new.get("config", {})
    was, now = old_config.get("embedder", {}).get("id"), new_config.get("embedder", {}).get("id")
    if was != now:
        notes.append(f"note: the embedder differs ({was} -> {now}).")
    was, now = (old_config.get("deep") or {}).get("id"), (new_config.get("deep") or {}).get("id")
    if was != now:
        notes.append(f"note: the deep layer differs ({was} -> {now}).")
    was, now = old_config.get("corpus", {}).get("fingerprint"), new_config.get("corpus", {}).get("fingerprint")
    if was != now:
        notes.append(f"note: the corpus differs (fingerprint {was} -> {now}): the figures are over other articles.")
    return "\n".join([text_table(rows), *notes])


def _delta(before: object, after: object, name: str) -> str:
    if not isinstance(before, int | float) or not isinstance(after, int | float):
        return ""
    change = after - before
    if isinstance(before, int) and isinstance(after, int):
        return f"{change:+d}"
    return f"{change:+.1f}" if name.endswith("_ms") else f"{change:+.3f}"
