"""The scale benchmark's one command, on a tiny corpus of our own: it runs end to end and writes its report.

Not a timed test: it checks that every figure is produced, never how fast.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ARTICLES, REPO


def tiny_corpus(path: Path, count: int) -> Path:
    """``count`` articles made from the fixture articles' paragraphs, each numbered so none repeats."""
    paragraphs = [p.strip() for f in sorted(ARTICLES.rglob("*.*")) for p in f.read_text(encoding="utf-8").split("\n\n")
                  if len(p.strip()) > 40]
    with open(path, "w", encoding="utf-8") as fh:
        for n in range(count):
            body = "\n\n".join(f"{paragraphs[(n + i) % len(paragraphs)]} ({n}-{i})" for i in range(3))
            fh.write(json.dumps({"title": f"Report {n}: {paragraphs[n % len(paragraphs)][:40]}", "text": body},
                                ensure_ascii=False) + "\n")
    return path


@pytest.mark.slow
def test_scale_benchmark_runs_end_to_end(tmp_path: Path) -> None:
    articles = tiny_corpus(tmp_path / "articles.jsonl", 30)
    out = tmp_path / "out"
    subprocess.run([sys.executable, str(REPO / "benchmarks" / "scale" / "run.py"), "--articles", str(articles),
                    "--sizes", "10", "30", "--questions", "5", "--cold-runs", "1", "--out", str(out)],
                   check=True, capture_output=True, timeout=600)
    result = json.loads((out / "scale.json").read_text(encoding="utf-8"))
    small, large = result["sizes"]
    assert (small["articles"], large["articles"]) == (10, 30) and small["passages"] < large["passages"]
    for size in result["sizes"]:
        assert size["build"]["seconds"] > 0 and size["build"]["peak_rss_mb"] > 0 and size["index_mb"] > 0
        assert 0 < size["build"]["answers_after_s"] <= size["build"]["seconds"] + 0.5
        assert size["warm"]["answer_ms"]["n"] == size["api"]["api_ask_ms"]["n"] == 5
        assert size["cold_ask"]["median_s"] > 0 and size["api"]["cold_serve_s"] > 0
    table = (out / "scale.md").read_text(encoding="utf-8")
    assert table.count("\n| 10 |") == 1 and table.count("\n| 30 |") == 1
    assert (out / "scale.png").read_bytes()[:4] == b"\x89PNG"
