"""`dalil serve`: the chat page and the JSON API on one local web server."""

import errno
import os
import socket
from pathlib import Path

import click

from assistant.cli_options import EMBED_OPTION, INDEX_DIR_OPTION, llm_options, reports_errors
from index.errors import ConfigError


@click.command("serve")
@click.option("--host", envvar="DALIL_HOST", show_envvar=True,
              help="Address to listen on [default: 127.0.0.1, this machine only]. 0.0.0.0 opens it to the network.")
@click.option("--port", type=click.IntRange(1, 65535), envvar="DALIL_PORT", show_envvar=True,
              help="Port to listen on [default: 7860].")
@INDEX_DIR_OPTION
@EMBED_OPTION
@llm_options
@reports_errors
def serve_command(host: str | None, port: int | None, index_dir: Path | None, embed_model: str | None,
                  **llm: object) -> None:
    """Serve the chat page and the HTTP API (OpenAPI at /docs) until Ctrl-C.

    With no index yet, one is first built from seeds/. DALIL_API_TOKEN, DALIL_CORS_ORIGINS,
    DALIL_UPLOAD_DIR and DALIL_MAX_UPLOAD_BYTES configure access and uploads (see docs/web.md).
    With --llm, answers are written by that LLM and streamed (docs/llm.md).

    \b
    Example usage:
        dalil serve
        dalil serve --port 8080 --index-dir ~/news-index
        DALIL_API_TOKEN=s3cret dalil serve --host 0.0.0.0
        dalil serve --llm openai-like --llm-url http://127.0.0.1:8000/v1 --llm-model qwen2.5-7b-instruct
    """
    from assistant.settings import Settings

    settings = Settings.load(index_dir=index_dir, embed_model=embed_model, host=host, port=port, **llm)
    check_port(settings.host, settings.port)  # first: a port in use fails before the index is opened
    click.echo(f"dalil: opening the index at {settings.index_dir}", err=True)
    import uvicorn

    from ui.server import create_app

    app = create_app(settings)
    library = app.state.library
    health = library.health()
    click.echo(f"dalil: {health['articles']} articles, {health['passages']} passages; uploads go to "
               f"{settings.uploads_folder}", err=True)
    if library.generator is not None:
        click.echo(f"dalil: answers written by {library.generator.label} at {library.generator.where}", err=True)
    click.echo(f"dalil: chat at http://{settings.host}:{settings.port}/ , API docs at /docs (Ctrl-C to stop)",
               err=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")


def check_port(host: str, port: int) -> None:
    """A ``ConfigError`` naming ``host:port`` when a server cannot listen there (uvicorn's own bind error was a
    log line and exit status 3, after the index had been opened and the chat address printed).

    Only a probe: the socket is closed again and uvicorn binds its own. Handing this one over to uvicorn
    (``Server.run(sockets=...)``) left one streamed chat answer in four hanging in the browser test
    (tests/test_browser_llm.py), never with uvicorn's own socket.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        socket.create_server((host.strip("[]"), port), family=family).close()
    except OSError as err:
        if err.errno == errno.EADDRINUSE:
            raise ConfigError(f"Cannot listen on {host}:{port}: the port is in use.",
                              "Stop what is using it, or give another with --port (or DALIL_PORT).") from None
        # A name that does not resolve (socket.gaierror: its errno is negative) or an address not of this machine.
        reason = os.strerror(err.errno) if isinstance(err.errno, int) and err.errno > 0 else err.strerror or str(err)
        reason = reason.split(" (while attempting")[0]  # socket.create_server's own addition
        raise ConfigError(f"Cannot listen on {host}:{port}: {reason}.",
                          "Give --host (or DALIL_HOST) an address of this machine, e.g. 127.0.0.1 or 0.0.0.0.",
                          ) from None
