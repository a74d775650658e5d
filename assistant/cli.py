"""The `dalil` command line: index articles, ask questions. Errors become one line and a non-zero exit."""

import json
from pathlib import Path
from typing import Any

import click

from assistant.cli_options import (
    DEEP_OPTION,
    EMBED_OPTION,
    INDEX_DIR_OPTION,
    MILVUS_URI_OPTION,
    STORE_OPTION,
    llm_options,
    reports_errors,
)
from assistant.settings import Settings


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
@DEEP_OPTION
@click.option("--rebuild", is_flag=True, help="Embed everything again instead of reusing unchanged files.")
@click.option("--skip-bad", is_flag=True, help="Index the readable files and list the others, instead of stopping.")
@STORE_OPTION
@MILVUS_URI_OPTION
@reports_errors
def index_command(paths: tuple[Path, ...], index_dir: Path | None, embed_model: str | None,
                  deep_model: str | None, rebuild: bool, skip_bad: bool, store: str | None,
                  milvus_uri: str | None) -> None:
    """Index .txt, .md, .html and .jsonl articles (files or folders, recursively).

    The index then holds exactly the articles under PATHS: new and changed files are embedded,
    unchanged ones reused, removed ones dropped. With no PATHS, the paths of the existing index
    are indexed again (or seeds/ when there is none). The fast layer is published once it is
    complete (with USE, its sentence vectors in it; with another fast encoder they are filled in next);
    the deep layer (--deep-model) is then filled in behind it and published about once a minute. A
    failure or Ctrl-C always leaves a usable index: the previous one, or the last step published (run
    again to finish the sentence vectors and deep layer).

    \b
    Example usage:
        dalil index seeds/
        dalil index seeds/ ~/news/archive.jsonl --embed-model e5
        dalil index ~/news/ --store milvus --milvus-uri ./milvus.db
    """
    from assistant.indexing import run_index

    settings = Settings.load(index_dir=index_dir, embed_model=embed_model, deep_model=deep_model, store=store,
                             milvus_uri=milvus_uri)
    report = run_index(settings, list(paths), rebuild=rebuild, skip_bad=skip_bad)
    for line in report.notes + [f"skipped: {message}" for message in report.skipped]:
        click.echo(f"dalil: {line}", err=True)
    if paths and report.removed:  # the index holds exactly PATHS: say so to whoever meant to add a file
        click.echo(f"dalil: removed {len(report.removed)} file(s) not under the paths given, e.g. {report.removed[0]}; "
                   "the index holds exactly the files under the paths given, so give every path to keep them.",
                   err=True)
    click.echo(summary_line(report, settings.index_dir))


def summary_line(report: Any, index_dir: Path) -> str:
    """One line saying what a build did."""
    if not report.written:
        return f"Index at {index_dir} is up to date: {report.articles} articles, {report.passages} passages."
    changes = f"{len(report.added)} added, {len(report.changed)} changed, {len(report.removed)} removed"
    deep = (f"; deep layer: {report.deep_embedded} passages in {report.deep_seconds:.1f} s"
            if report.deep_embedded else "")
    return (f"Indexed {report.files} files: {report.articles} articles, {report.passages} passages "
            f"({changes}; {report.embedded} texts embedded{deep}) in {report.seconds:.1f} s -> {index_dir}")


@main.command("ask")
@click.argument("question")
@click.option("-k", "top_k", type=click.IntRange(1, 50), default=None,
              help="How many passages to retrieve [default: 5].")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (the schema the HTTP API uses).")
@INDEX_DIR_OPTION
@EMBED_OPTION
@llm_options
@reports_errors
def ask_command(question: str, top_k: int | None, as_json: bool, index_dir: Path | None,
                embed_model: str | None, **llm: Any) -> None:
    """Answer QUESTION (English or Arabic) from the indexed articles, with numbered citations.

    With no index yet, one is first built from seeds/. With --llm, an LLM writes the answer from the
    retrieved passages (streamed as it comes), each sentence citing them; if it fails, the extracted
    answer is shown with a one-line notice.

    \b
    Example usage:
        dalil ask "Who visited Algeria on Wednesday?"
        dalil ask "من هو المسؤول الأمريكي الذي زار الجزائر؟" -k 3 --json
        dalil ask "What did Washington offer Algeria?" --llm ollama:qwen2.5:3b
    """
    from assistant.indexing import progress_bar
    from assistant.qa import Assistant

    settings = Settings.load(index_dir=index_dir, embed_model=embed_model, top_k=top_k, **llm)
    generator = None
    if settings.llm:  # the generated-answer layer is not even imported without one
        from assistant.generation import Generator

        generator = Generator.from_settings(settings)
    assistant = Assistant.open(settings, progress=progress_bar("Indexing seeds/ (first use)", unit="text"))
    if generator is None:
        answer, streamed = assistant.answer(question), ""
    else:
        answer, streamed = echo_stream(generator.stream(assistant, question), show=not as_json)
    if as_json:
        click.echo(json.dumps(answer.to_json(), ensure_ascii=False, indent=2))
    else:
        click.echo(format_answer(answer, with_text=streamed.strip() != answer.answer))


def echo_stream(events: Any, show: bool) -> tuple[Any, str]:
    """Print a generated answer's text as it streams (when ``show``); return the final answer and that text."""
    streamed, final = "", None
    for event in events:
        if event.kind == "question":
            click.echo(f"dalil: searching for: {event.text}", err=True)
        elif event.kind == "delta" and show:
            click.echo(event.text, nl=False)
            streamed += event.text
        final = event.answer or final
    if streamed:
        click.echo("")
    if final.notice:
        click.echo(f"dalil: {final.notice}", err=True)
    return final, streamed


def format_answer(answer: Any, with_text: bool = True) -> str:
    """The answer (unless it was already streamed), then each citation with its title, file and sentence."""
    lines = [answer.answer, ""] if with_text else [""]
    for c in answer.citations:
        lines.append(f"[{c.n}] {c.title} ({c.source})")
        lines.append(f"    {c.sentence}")
    lines.append(f"({answer.timings_ms.get('total_ms', 0):.0f} ms)")
    return "\n".join(lines)


# The other commands live beside what they drive; their modules import nothing heavy until they run,
# so `dalil ask` does not pay for Gradio or matplotlib.
from assistant.eval_command import eval_command  # noqa: E402
from ui.serve_command import serve_command  # noqa: E402

main.add_command(eval_command)
main.add_command(serve_command)
