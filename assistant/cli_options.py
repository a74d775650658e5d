"""Options and error handling shared by every `dalil` command (kept apart so commands can import them)."""

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from assistant.settings import DEFAULT_INDEX_DIR
from index.errors import DalilError

INDEX_DIR_OPTION = click.option(
    "--index-dir", type=click.Path(path_type=Path), envvar="DALIL_INDEX_DIR", show_envvar=True,
    help=f"Folder of the index [default: {DEFAULT_INDEX_DIR}].")
EMBED_OPTION = click.option(
    "--embed-model", envvar="DALIL_EMBED_MODEL", show_envvar=True,
    help="'use' (multilingual USE v3, fast, the default), 'e5' (multilingual-e5-small, better, slower), "
         "or a sentence-transformers model name (already cached) or folder.")

_LLM_OPTIONS = [
    click.option("--llm", envvar="DALIL_LLM", show_envvar=True,
                 help="Generate answers with an LLM: 'openai-like' (with --llm-url and --llm-model) or "
                      "'ollama:MODEL'. Without it, answers are the extracted sentences. See docs/llm.md."),
    click.option("--llm-url", envvar="DALIL_LLM_URL", show_envvar=True,
                 help="The LLM server, e.g. http://127.0.0.1:8000/v1 [Ollama default: http://127.0.0.1:11434]."),
    click.option("--llm-model", envvar="DALIL_LLM_MODEL", show_envvar=True,
                 help="Model name on the OpenAI-compatible server."),
    click.option("--llm-api-key", envvar="DALIL_LLM_API_KEY", show_envvar=True,
                 help="API key for the LLM server, if it needs one."),
    click.option("--llm-timeout", type=click.FloatRange(min=0.1, max=3600), envvar="DALIL_LLM_TIMEOUT",
                 show_envvar=True, help="Seconds the LLM has to answer before the extracted answer is shown "
                                        "[default: 60]."),
]


def llm_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add the --llm* options; the command receives them as keyword arguments named like the settings."""
    for option in reversed(_LLM_OPTIONS):
        command = option(command)
    return command


DEEP_OPTION = click.option(
    "--deep-model", envvar="DALIL_DEEP_MODEL", show_envvar=True,
    help="Deep layer, filled in after the fast one: 'e5' (multilingual-e5-small, the default for a new "
         "index), a sentence-transformers model name or folder, or 'none'. Without it, an existing index "
         "keeps its own.")


def reports_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn Dalil's errors into one line on stderr and exit 1; Ctrl-C into exit 130."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except DalilError as err:
            click.echo(f"dalil: {err}", err=True)
            sys.exit(1)
        except KeyboardInterrupt as err:
            click.echo(f"dalil: {getattr(err, 'message', 'interrupted; the index was not changed.')}", err=True)
            sys.exit(130)

    return wrapper
STORE_OPTION = click.option(
    "--store", type=click.Choice(["faiss", "milvus"]), envvar="DALIL_STORE", show_envvar=True,
    help="Where the vectors are searched: 'faiss' (in the index folder, the default) or 'milvus' "
         "(also written to a Milvus collection, which queries search) [default: as the index was built].")
MILVUS_URI_OPTION = click.option(
    "--milvus-uri", envvar="DALIL_MILVUS_URI", show_envvar=True,
    help="For --store milvus: a Milvus Lite file (./milvus.db) or a server (http://host:19530).")
