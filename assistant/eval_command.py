"""`dalil eval`: score the assistant against a gold JSONL file; a thin shell around ``evaluation.evaluate``."""

import contextlib
import hashlib
import json
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import click
from click.core import ParameterSource

from assistant.cli_options import DEEP_OPTION, EMBED_OPTION, INDEX_DIR_OPTION, llm_options, reports_errors
from assistant.settings import Settings
from index.errors import ConfigError, InputError


@click.command("eval")
@click.option("--gold", "gold_path", required=True, type=click.Path(path_type=Path),
              help="Gold questions, one JSON object a line: id, question, answers, optional source/answerable.")
@click.option("--corpus", "corpus", multiple=True, type=click.Path(path_type=Path),
              help="Index these files or folders afresh and evaluate on that index (repeatable). "
                   "Without it, the current index is used.")
@INDEX_DIR_OPTION
@EMBED_OPTION
@DEEP_OPTION
@click.option("-k", "ks", default="1,5,10", show_default=True, help="The k of hit@k and source@k, comma-separated.")
@click.option("--group", "groups", multiple=True, metavar="NAME=GLOB[,GLOB]",
              help="Also report the questions whose gold source matches GLOB as group NAME (repeatable).")
@click.option("--out", type=click.Path(path_type=Path), help="Write the full report as JSON here.")
@click.option("--md", type=click.Path(path_type=Path), help="Write a Markdown summary with the worst misses here.")
@click.option("--plot", type=click.Path(path_type=Path), help="Draw hit@k curves per question language (PNG).")
@click.option("--compare", "compare_path", type=click.Path(path_type=Path),
              help="An older report.json: print each metric's change against it.")
@llm_options
@reports_errors
def eval_command(gold_path: Path, corpus: tuple[Path, ...], index_dir: Path | None, embed_model: str | None,
                 deep_model: str | None, ks: str, groups: tuple[str, ...], out: Path | None, md: Path | None,
                 plot: Path | None, compare_path: Path | None, **llm: object) -> None:
    """Ask every question of a gold file and score passages, answers, citations, abstention and speed.

    With --corpus, a fresh index of those paths is built (in a temporary folder unless --index-dir
    is given on the command line; DALIL_INDEX_DIR is not used for it) and evaluated. The gold file is
    checked whole before anything starts.

    \b
    Example usage:
        dalil eval --gold ../shared/data/seed/gold.jsonl --corpus seeds/ --corpus ../shared/data/xquad/corpus_ar
        dalil eval --gold questions.jsonl --out report.json --md report.md --plot hits.png
        dalil eval --gold questions.jsonl --compare old_report.json -k 1,3,10
        dalil eval --gold questions.jsonl --llm openai-like --llm-url http://127.0.0.1:8000/v1 --llm-model qwen
    """
    from assistant.eval_report import compare, metric_table, plot_curves, text_table, to_markdown
    from assistant.evaluation import evaluate, load_gold
    from assistant.generation import GeneratingAssistant, Generator

    settings = Settings.load(index_dir=index_dir, embed_model=embed_model, deep_model=deep_model, **llm)
    generator = Generator.from_settings(settings)
    k_values, group_patterns = parse_ks(ks), parse_groups(groups)
    gold = load_gold(gold_path, settings.max_question_chars)
    old = read_report(compare_path) if compare_path else None
    for target in (out, md, plot):  # checked before any question is asked, which can take minutes
        if target is not None:
            check_writable(target)
    started = time.perf_counter()
    # A --corpus index goes to a temporary folder unless --index-dir names one on the command line: the folder
    # DALIL_INDEX_DIR names is the user's own index, which an evaluation must not replace with its corpus.
    named = click.get_current_context().get_parameter_source("index_dir") == ParameterSource.COMMANDLINE
    with open_assistant(settings, list(corpus), fresh=not named) as (assistant, build_seconds):
        asked = time.perf_counter()
        if generator is not None:  # the same scoring, over the generated answers
            assistant = GeneratingAssistant(assistant, generator)
        report = evaluate(gold, assistant, k_values, progress=question_bar(), groups=group_patterns)
        eval_seconds = time.perf_counter() - asked
    report.config["gold"] = {"path": str(gold_path), "sha256": _sha256(gold_path)[:16], "questions": len(gold)}
    report.config["corpus"]["paths"] = [str(p) for p in corpus] or [str(settings.index_dir)]
    report.config["seconds"] = {"index": round(build_seconds, 3), "questions": round(eval_seconds, 1),
                                "total": round(time.perf_counter() - started, 1)}
    if generator is not None:
        report.config["llm"] = generator.label
        report.notes.append(generation_note(report.questions))
    data = report.to_json()
    for note in report.notes:
        click.echo(f"dalil: {note}", err=True)
    click.echo(text_table(metric_table(data)))
    click.echo(f"\n{len(gold)} questions in {eval_seconds:.1f} s ({len(gold) / max(eval_seconds, 1e-9):.1f}/s)"
               + (f"; index built in {build_seconds:.1f} s" if corpus else ""))
    if out:
        out.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    name = f"{gold_path.parent.name}/{gold_path.name}"
    if md:
        md.write_text(to_markdown(data, title=f"Dalil evaluation: {name}") + "\n", encoding="utf-8")
    if plot:
        plot_curves(data, plot, title=f"hit@k: {name} ({data['config']['embedder'].get('id')})")
    for label, target in (("report", out), ("summary", md), ("plot", plot)):
        if target:
            click.echo(f"{label}: {target}", err=True)
    if old is not None:
        click.echo(f"\nChange against {compare_path}:\n{compare(old, data)}")


def check_writable(target: Path) -> None:
    """Make ``target``'s folder and try writing a file there; refuse a folder or an unwritable place, naming it."""
    if target.is_dir():
        raise InputError(f"{target} is a folder.", "Give a file name for the report, e.g. report.json inside it.")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, prefix=".dalil-eval-"):
            pass  # the report itself is written only at the end: nothing is left if the run stops before
    except OSError as err:
        raise InputError(f"Cannot write {target}: {err.strerror}.",
                         "Give a path in a folder you can write to.") from None


def generation_note(rows: list[dict]) -> str:
    """How many answers the LLM wrote, and why the others fell back to the extracted answer."""
    generated = sum(bool(row.get("generated")) for row in rows)
    reasons: dict[str, int] = {}
    for row in rows:
        if not row.get("generated") and row.get("notice"):
            reason = re.sub(r",? so the extracted answer .*|\s*The extracted answer .*", "", row["notice"])
            reasons[reason] = reasons.get(reason, 0) + 1
    fallbacks = "; ".join(f"{count}× {reason}" for reason, count in sorted(reasons.items(), key=lambda r: -r[1]))
    return f"LLM: {generated} of {len(rows)} answers generated" + (f"; fell back: {fallbacks}" if fallbacks else "")


def parse_ks(text: str) -> list[int]:
    """'1,5,10' -> [1, 5, 10]; anything else is a ``ConfigError``."""
    try:
        values = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        values = []
    if not values or not all(1 <= k <= 50 for k in values):
        raise ConfigError(f"-k '{text}' is not a list of numbers from 1 to 50.", "Give for example -k 1,5,10.")
    return values


def parse_groups(specs: tuple[str, ...]) -> dict[str, list[str]]:
    """('tune=a*,b*', 'tune=c*') -> {'tune': ['a*', 'b*', 'c*']}."""
    groups: dict[str, list[str]] = {}
    for spec in specs:
        name, _, patterns = spec.partition("=")
        globs = [p.strip() for p in patterns.split(",") if p.strip()]
        if not name.strip() or not globs:
            raise ConfigError(f"--group '{spec}' is not NAME=GLOB[,GLOB].",
                              "Give for example --group 'heldout=xquad_ar_2[4-9].txt,xquad_ar_[34]?.txt'.")
        groups.setdefault(name.strip(), []).extend(globs)
    return groups


def read_report(path: Path) -> dict:
    """An older report.json for --compare, checked before the run starts."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise InputError(f"Cannot read the report to compare with, {path}: {err}.",
                         "Give a report.json written by `dalil eval --out`.") from None
    if not isinstance(data, dict) or not isinstance(data.get("metrics"), dict):
        raise InputError(f"{path} is not a report written by `dalil eval --out`.", "Give such a report.json.")
    return data


@contextlib.contextmanager
def open_assistant(settings: Settings, corpus: list[Path], fresh: bool) -> Iterator[tuple[object, float]]:
    """The assistant to measure, and how long building its index took (0 when an existing one is used)."""
    from assistant.indexing import progress_bar
    from assistant.qa import Assistant, deep_model_for, load_deep_embedder
    from index.build import build_index
    from index.embedding import DEFAULT_EMBEDDER, load_embedder
    from index.store import load_index, manifest_to_update, read_manifest

    if not corpus:
        read_manifest(settings.index_dir)  # no index: IndexMissing says how to build one (never seeds/ here)
        yield Assistant.open(settings), 0.0
        return
    with contextlib.ExitStack() as stack:
        index_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="dalil-eval-"))) if fresh \
            else settings.index_dir
        embedder = load_embedder(settings.embed_model or DEFAULT_EMBEDDER)
        deep_embedder = load_deep_embedder(deep_model_for(settings, None if fresh else manifest_to_update(index_dir)))
        started = time.perf_counter()
        build_index(corpus, index_dir, embedder, progress=progress_bar("Embedding (fast layer)", unit="text"),
                    deep_embedder=deep_embedder, deep_progress=progress_bar("Deep layer"))
        seconds = time.perf_counter() - started
        yield Assistant(load_index(index_dir), embedder, settings.model_copy(update={"index_dir": index_dir}),
                        deep_embedder), seconds


def question_bar():
    """A progress callback drawing a tqdm bar of questions (with questions per second) on stderr."""
    state: dict = {}

    def update(done: int, total: int) -> None:
        from tqdm import tqdm

        if "bar" not in state:
            state["bar"] = tqdm(total=total, desc="Asking", unit="question", leave=False, dynamic_ncols=True)
        state["bar"].update(done - state["bar"].n)
        if done >= total:
            state["bar"].close()

    return update


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()

