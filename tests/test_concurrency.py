"""Questions while two uploads are indexed, on a real loopback server: no errors, old or new index, never a mix."""

import shutil
from pathlib import Path

import pytest

from assistant.qa import Assistant
from assistant.settings import Settings
from benchmarks.faults import concurrency
from benchmarks.faults.live import serving
from index.store import load_index


@pytest.mark.slow
def test_clients_see_the_old_or_the_new_index_while_uploads_land(fixture_index: Path, use_embedder,
                                                                 tmp_path: Path) -> None:
    """The CI version of benchmarks/faults/concurrency.py: 4 clients, two uploads of 30 paragraphs."""
    from ui.server import create_app

    index_dir = tmp_path / "index"
    shutil.copytree(fixture_index, index_dir, symlinks=True)
    config = Settings(index_dir=index_dir)
    with serving(create_app(Assistant(load_index(index_dir), use_embedder, config), config)) as url:
        figures = concurrency.measure(url, count=4, paragraphs=30, idle_questions=2)
    assert figures["removal_restores_answers"] and figures["final_answers_are_after_2"]
    for phase in (figures["idle"], figures["writing"]):
        assert phase["errors"] == 0 and phase["mixed"] == 0 and phase["requests"] > 0, phase
    assert [job["state"] for job in figures["uploads"]] == ["done", "done"] and figures["uploads_whole"]
