"""A damaged index seen by the surfaces: `dalil ask` and `dalil serve` refuse it; a running server reports it."""

import shutil
import socket
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from assistant.cli import main
from assistant.qa import Assistant
from assistant.settings import Settings
from benchmarks.faults import damage
from benchmarks.faults.live import serving
from index.store import current_generation, load_index

QUESTION = "How much will the port expansion in Al-Waha cost?"


@pytest.fixture()
def index_copy(fixture_index: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "index"
    shutil.copytree(fixture_index, copy, symlinks=True)
    return copy


@pytest.mark.parametrize(("name", "how"), [("lexical/frequencies.npz", "zero"),
                                           ("lexical/vocabulary.json", "truncate"), ("chunks.jsonl", "delete")])
@pytest.mark.parametrize("command", [["ask", QUESTION], ["serve", "--port", "PORT"]])
def test_ask_and_serve_refuse_a_damaged_index(index_copy: Path, name: str, how: str, command: list[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """tests/test_build.py covers loading every file; here the commands' one line (BM25 files included)."""
    monkeypatch.setattr("uvicorn.Server.run", lambda *args, **kwargs: pytest.fail("dalil serve served a damaged index"))
    with socket.create_server(("127.0.0.1", 0)) as probe:  # a free port (serve binds it before opening the index)
        command = [str(probe.getsockname()[1]) if part == "PORT" else part for part in command]
    damage.damage(current_generation(index_copy) / name, how)
    result = CliRunner().invoke(main, [*command, "--index-dir", str(index_copy)])
    assert result.exit_code == 1, result.output
    assert damage.names_the_problem(result.output, name) and "Traceback" not in result.output
    assert "8.8" not in result.output  # nothing was answered


def test_a_running_server_reports_each_damaged_file(index_copy: Path, use_embedder) -> None:
    """Every file of the index truncated, zeroed, deleted in turn under a running server (on loopback)."""
    from ui.server import create_app

    config = Settings(index_dir=index_copy, upload_dir=index_copy.parent / "uploads")
    assistant = Assistant(load_index(index_copy), use_embedder, config)
    expected = {k: v for k, v in assistant.answer(QUESTION).to_json().items() if k != "timings_ms"}
    with serving(create_app(assistant, config)) as url, httpx.Client(base_url=url, timeout=120) as http:
        assert http.get("/api/health").json()["status"] == "ok"
        results = damage.run_all(index_copy, http, expected, with_cli=False)
        assert len(results) == 3 * len(damage.index_files(index_copy)) >= 15
        assert [r for r in results if not r["ok"]] == []
        health = http.get("/api/health").json()
        assert health["status"] == "ok" and health["problem"] == ""  # each file was put back


@pytest.mark.parametrize("how", ["truncate", "delete"])
def test_the_rebuild_a_damaged_manifest_asks_for_works(index_copy: Path, articles_copy: Path, how: str) -> None:
    """The damage message says `dalil index --rebuild --index-dir DIR PATH...`: that command must mend the index
    (it once failed on the manifest it was replacing); without PATH it says the paths are needed."""
    damage.damage(current_generation(index_copy) / "manifest.json", how)
    asked = CliRunner().invoke(main, ["ask", QUESTION, "--index-dir", str(index_copy)])
    assert asked.exit_code == 1 and "dalil index --rebuild" in asked.output
    no_paths = CliRunner().invoke(main, ["index", "--rebuild", "--index-dir", str(index_copy), "--deep-model", "none"])
    assert no_paths.exit_code == 1 and "PATH" in no_paths.output and "Traceback" not in no_paths.output
    rebuilt = CliRunner().invoke(main, ["index", "--rebuild", "--index-dir", str(index_copy), "--deep-model", "none",
                                       str(articles_copy)])
    assert rebuilt.exit_code == 0, rebuilt.output
    answered = CliRunner().invoke(main, ["ask", QUESTION, "--index-dir", str(index_copy)])
    assert answered.exit_code == 0 and "8.8" in answered.output
