"""The `dalil` command end to end: index, ask (text and JSON), and one clear line for each bad input."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.cli import main
from tests.conftest import ARTICLES, REPO


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    dalil = Path(sys.executable).parent / "dalil"
    return subprocess.run([str(dalil), *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_index_then_ask_json(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    runner = CliRunner()
    built = runner.invoke(main, ["index", str(ARTICLES), "--index-dir", str(index_dir)])
    assert built.exit_code == 0, built.output
    assert "4 files: 5 articles" in built.output
    again = runner.invoke(main, ["index", "--index-dir", str(index_dir)])  # no paths: the index's own
    assert "up to date" in again.output
    asked = runner.invoke(main, ["ask", "متى ستبدأ أشغال توسعة الميناء؟", "--json", "-k", "3",
                                 "--index-dir", str(index_dir)])
    assert asked.exit_code == 0, asked.output
    data = json.loads(asked.output)
    assert "مارس" in data["answer"] and not data["abstained"]
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", data["answer"])}
    assert markers and markers <= {c["n"] for c in data["citations"]}


def test_reindexing_keeps_the_deep_layer_choice(tmp_path: Path) -> None:
    """Without --deep-model, an update follows the index: one built without a deep layer stays without."""
    articles, index_dir = tmp_path / "articles", tmp_path / "index"
    shutil.copytree(ARTICLES, articles)
    runner = CliRunner()
    built = runner.invoke(main, ["index", str(articles), "--index-dir", str(index_dir), "--deep-model", "none"])
    assert built.exit_code == 0, built.output
    (articles / "extra.txt").write_text("A new bridge opened in the north of the city on Monday.\n", encoding="utf-8")
    updated = runner.invoke(main, ["index", "--index-dir", str(index_dir)])
    assert updated.exit_code == 0, updated.output
    manifest = json.loads(next(index_dir.glob("current/manifest.json")).read_text(encoding="utf-8"))
    assert manifest["files"] and manifest.get("deep") is None and "Deep layer" not in updated.output
    # One file given: the index then holds that file alone, and says what it removed.
    only = runner.invoke(main, ["index", str(articles / "extra.txt"), "--index-dir", str(index_dir)])
    assert only.exit_code == 0 and "4 removed" in only.output
    assert "dalil: removed 4 file(s) not under the paths given" in only.output and "give every path" in only.output


def test_ask_without_index_builds_the_seeds_first(tmp_path: Path) -> None:
    result = run("ask", "What guarantees did Washington offer Algeria?", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "ضمانات جادة وتأكيدات راسخة" in result.stdout
    assert (tmp_path / ".dalil" / "index" / "current").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ask", ""], "The question is empty"),
        (["ask", "x" * 102_400], "the limit is 2,000"),
        (["index", "/no/such/folder"], "no such file or folder"),
        (["ask", "anything", "--embed-model", "e5"], "was built with embedder 'use-m3'"),
        (["index", str(ARTICLES), "--rebuild", "--embed-model", "/no/such/model"],
         "Cannot load the sentence-transformers model"),
    ],
)
def test_bad_input_is_one_clear_line(fixture_index: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, [*args, "--index-dir", str(fixture_index)])
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("where", ["a file", "under a file"])
def test_an_index_folder_that_cannot_be_written_is_one_clear_line(tmp_path: Path, where: str) -> None:
    (tmp_path / "taken").write_text("not a folder", encoding="utf-8")
    index_dir = tmp_path / "taken" if where == "a file" else tmp_path / "taken" / "index"
    for args in (["index", str(ARTICLES)], ["ask", "Who runs the library?"]):
        result = CliRunner().invoke(main, [*args, "--index-dir", str(index_dir)])
        assert result.exit_code == 1 and "Traceback" not in result.output, result.output
        assert f"The index folder {index_dir} cannot be written" in result.output


@pytest.mark.parametrize(("variable", "message"), [
    ("DALIL_FLAT_MAX", "DALIL_FLAT_MAX is 'abc'"),
    ("DALIL_TOP_K", "Setting 'top_k' (given: 'abc'): Input should be a valid integer"),
])
def test_a_bad_number_in_a_setting_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       variable: str, message: str) -> None:
    monkeypatch.setenv(variable, "abc")
    result = CliRunner().invoke(main, ["index", str(ARTICLES), "--index-dir", str(tmp_path / "ix")])
    assert result.exit_code == 1 and message in result.output and variable in result.output, result.output


def test_serve_on_a_port_in_use_is_one_clear_line(fixture_index: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = CliRunner().invoke(main, ["serve", "--port", str(port), "--index-dir", str(fixture_index)])
    assert result.exit_code == 1, result.output
    assert f"Cannot listen on 127.0.0.1:{port}: the port is in use." in result.output
    assert "chat at" not in result.output  # refused before the index is opened


def test_damaged_index_is_named_and_ask_fails(tmp_path: Path, fixture_index: Path) -> None:
    index_dir = tmp_path / "index"
    shutil.copytree(fixture_index, index_dir, symlinks=True)
    vectors = (index_dir / "current").resolve() / "vectors.f32"
    vectors.write_bytes(vectors.read_bytes()[:100])
    result = CliRunner().invoke(main, ["ask", "library", "--index-dir", str(index_dir)])
    assert result.exit_code == 1
    assert "vectors.f32" in result.output and "--rebuild" in result.output


def test_empty_folder_and_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(main, ["index", str(tmp_path / "empty"), "--index-dir", str(tmp_path / "ix")])
    assert result.exit_code == 1 and "holds no" in result.output
    (tmp_path / "blank.txt").write_text("")
    result = CliRunner().invoke(main, ["index", str(tmp_path / "blank.txt"), "--index-dir", str(tmp_path / "ix")])
    assert result.exit_code == 1 and "empty" in result.output


def test_ctrl_c_during_index_leaves_previous_index(tmp_path: Path, fixture_index: Path) -> None:
    index_dir = tmp_path / "index"
    shutil.copytree(fixture_index, index_dir, symlinks=True)
    before = os.readlink(index_dir / "current")
    big = tmp_path / "big"
    big.mkdir()
    for i in range(60):  # enough passages (hundreds) that embedding takes seconds
        text = f"خبر رقم {i}\n\n" + f"جملة عن موضوع رقم {i} في المدينة. " * 200
        (big / f"{i}.txt").write_text(text, encoding="utf-8")
    dalil = Path(sys.executable).parent / "dalil"
    # The fast layer's interruption (no deep layer: Ctrl-C during its fill keeps published steps, test_deep.py).
    # SIGINT reset to its default in the child: a job started in the background (nohup, `cmd &`) inherits
    # it ignored, and Python then never raises KeyboardInterrupt, as a terminal's Ctrl-C would.
    proc = subprocess.Popen([str(dalil), "index", str(big), "--index-dir", str(index_dir), "--deep-model", "none"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seen = b""
    deadline = time.monotonic() + 120
    while b"Embedding" not in seen and time.monotonic() < deadline:  # the progress bar: embedding is under way
        seen += os.read(proc.stderr.fileno(), 4096) or b""
        if proc.poll() is not None:
            break
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (seen + err).decode(errors="replace")
    assert b"interrupted; the index was not changed" in err
    assert os.readlink(index_dir / "current") == before
    assert len(list(index_dir.glob("gen-*"))) == 1
    result = CliRunner().invoke(main, ["ask", "library", "--index-dir", str(index_dir)])
    assert result.exit_code == 0


def test_help_has_examples() -> None:
    for command in (["--help"], ["index", "--help"], ["ask", "--help"]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 0 and "Example usage" in result.output
    assert REPO.joinpath("README.md").exists()
