"""The `dalil` command line: index articles, ask questions. Errors become one line and a non-zero exit."""

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from assistant.settings import DEFAULT_INDEX_DIR, Settings
from index.errors import DalilError

INDEX_DIR_OPTION = click.option(
    "--index-dir", type=click.Path(path_type=Path), envvar="DALIL_INDEX_DIR", show_envvar=True,
    help=f"Folder of the index [default: {DEFAULT_INDEX_DIR}].")
EMBED_OPTION = click.option(
    "--embed-model", envvar="DALIL_EMBED_MODEL", show_envvar=True,
    help="'use' (multilingual USE v3, fast, the default), 'e5' (multilingual-e5-small, better, slower), "
         "or a sentence-transformers model name (already cached) or folder.")


def reports_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn Dalil's errors into one line on stderr and exit 1; Ctrl-C into exit 130."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except DalilError as err:
            click.echo(f"dalil: {err}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("dalil: interrupted; the index was not changed.", err=True)
            sys.exit(130)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dalil")
def main() -> None:
    """Dalil (دليل): answers questions about news articles, citing the sentences it used.

    \b
    Example usage:
        dalil index seeds/
        dalil ask "What guarantees did Washington offer Algeria?"
        dalil ask "ما هي الضمانات التي قدمتها واشنطن للجزائر؟" --json
    """


@main.command("index")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@INDEX_DIR_OPTION
@EMBED_OPTION
@click.option("--rebuild", is_flag=True, help="Embed everything again instead of reusing unchanged files.")
@click.option("--skip-bad", is_flag=True, help="Index the readable files and list the others, instead of stopping.")
@reports_errors
def index_command(paths: tuple[Path, ...], index_dir: Path | None, embed_model: str | None,
                  rebuild: bool, skip_bad: bool) -> None:
    """Index .txt, .md, .html and .jsonl articles (files or folders, recursively).

    The index then holds exactly the articles under PATHS: new and changed files are embedded,
    unchanged ones reused, removed ones dropped. With no PATHS, the paths of the existing index
    are indexed again (or seeds/ when there is none). Nothing changes on disk until the whole run
    has succeeded, so a failure or Ctrl-C leaves the previous index usable.

    \b
    Example usage:
        dalil index seeds/
        dalil index seeds/ ~/news/archive.jsonl --embed-model e5
    """
    from assistant.indexing import run_index

    settings = Settings.load(index_dir=index_dir, embed_model=embed_model)
    report = run_index(settings, list(paths), rebuild=rebuild, skip_bad=skip_bad)
    for line in report.notes + [f"skipped: {message}" for message in report.skipped]:
        click.echo(f"dalil: {line}", err=True)
    click.echo(summary_line(report, settings.index_dir))


def summary_line(report: Any, index_dir: Path) -> str:
    """One line saying what a build did."""
    if not report.written:
        return f"Index at {index_dir} is up to date: {report.articles} articles, {report.passages} passages."
    changes = f"{len(report.added)} added, {len(report.changed)} changed, {len(report.removed)} removed"
    return (f"Indexed {report.files} files: {report.articles} articles, {report.passages} passages "
            f"({changes}; {report.embedded} passages embedded) in {report.seconds:.1f} s -> {index_dir}")


@main.command("ask")
@click.argument("question")
@click.option("-k", "top_k", type=click.IntRange(1, 50), default=None,
              help="How many passages to retrieve [default: 5].")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (the schema the HTTP API uses).")
@INDEX_DIR_OPTION
@EMBED_OPTION
@reports_errors
def ask_command(question: str, top_k: int | None, as_json: bool, index_dir: Path | None,
                embed_model: str | None) -> None:
    """Answer QUESTION (English or Arabic) from the indexed articles, with numbered citations.

    With no index yet, one is first built from seeds/.

    \b
    Example usage:
        dalil ask "Who visited Algeria on Wednesday?"
        dalil ask "من هو المسؤول الأمريكي الذي زار الجزائر؟" -k 3 --json
    """
    from assistant.indexing import progress_bar
    from assistant.qa import Assistant

    settings = Settings.load(index_dir=index_dir, embed_model=embed_model, top_k=top_k)
    assistant = Assistant.open(settings, progress=progress_bar("Indexing seeds/ (first use)"))
    answer = assistant.answer(question)
    if as_json:
        click.echo(json.dumps(answer.to_json(), ensure_ascii=False, indent=2))
    else:
        click.echo(format_answer(answer))


def format_answer(answer: Any) -> str:
    """The answer, then each citation with its title, file and the cited sentence."""
    lines = [answer.answer, ""]
    for c in answer.citations:
        lines.append(f"[{c.n}] {c.title} ({c.source})")
        lines.append(f"    {c.sentence}")
    lines.append(f"({answer.timings_ms.get('total_ms', 0):.0f} ms)")
    return "\n".join(lines)
