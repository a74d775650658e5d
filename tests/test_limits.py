"""Bounded memory: big inputs complete or are refused with a message (benchmarks/faults/memory.py measures RSS)."""

import json
import shutil
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from assistant.cli import main
from assistant.qa import Assistant
from assistant.settings import Settings
from benchmarks.faults.live import serving
from benchmarks.faults.memory import QUESTION_200KB, tiny_articles
from index.store import load_index


@pytest.fixture()
def server(fixture_index: Path, use_embedder, tmp_path: Path):
    from ui.server import create_app

    index_dir = tmp_path / "index"
    shutil.copytree(fixture_index, index_dir, symlinks=True)
    config = Settings(index_dir=index_dir)
    with serving(create_app(Assistant(load_index(index_dir), use_embedder, config), config)) as url:
        with httpx.Client(base_url=url, timeout=300) as http:
            yield http


def test_a_200kb_question_is_refused(server: httpx.Client, fixture_index: Path) -> None:
    reply = server.post("/api/ask", json={"question": QUESTION_200KB})
    assert reply.status_code == 400 and "200,000 characters long; the limit is 2,000" in reply.json()["error"]
    result = CliRunner().invoke(main, ["ask", QUESTION_200KB, "--index-dir", str(fixture_index)])
    assert result.exit_code == 1 and "the limit is 2,000" in result.output


def test_an_article_over_the_upload_limit_is_refused_unread(server: httpx.Client) -> None:
    reply = server.post("/api/articles", files={"file": ("report.txt", b"word " * 1_300_000, "text/plain")})
    assert reply.status_code == 413 and "over 5,064,000 bytes" in reply.json()["error"]


@pytest.mark.slow
def test_an_upload_of_many_tiny_articles_lands_whole(server: httpx.Client) -> None:
    """The CI version of the 5,000-article upload: 500 articles in one JSONL file."""
    before = server.get("/api/health").json()
    files = {"file": ("briefs.jsonl", tiny_articles(500), "text/plain")}
    job = server.post("/api/articles", params={"wait": True}, files=files).json()
    assert job["state"] == "done", job
    after = server.get("/api/health").json()
    assert after["articles"] == before["articles"] + 500 and after["passages"] == before["passages"] + 500
    rows = [row for row in server.get("/api/articles").json()["articles"] if row["source"] == "briefs.jsonl"]
    assert len(rows) == 500 and {row["title"] for row in rows} == {json.loads(line)["title"] for line in
                                                                    tiny_articles(500).decode().splitlines()}
