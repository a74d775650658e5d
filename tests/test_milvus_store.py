"""`--store milvus` end to end with a real Milvus Lite file: same answers as FAISS, updates kept in sync."""

import json
import shutil
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from assistant.cli import main
from assistant.qa import Assistant
from assistant.settings import Settings
from index.store import load_index
from tests.conftest import ARTICLES

QUESTIONS = ["متى ستبدأ أشغال توسعة الميناء؟", "fire in the library", "Who opened the train line?",
             "ما سبب الحريق في المكتبة؟", "When will the port expansion start?"]


def index(tmp_path: Path, corpus: Path, name: str, *store: str) -> Path:
    index_dir = tmp_path / name
    built = CliRunner().invoke(main, ["index", str(corpus), "--index-dir", str(index_dir), "--deep-model", "none",
                                      *store])
    assert built.exit_code == 0, built.output
    return index_dir


def top_sources(index_dir: Path, question: str) -> list[str]:
    assistant = Assistant(load_index(index_dir), load_index_embedder(), Settings(index_dir=index_dir))
    return [hit.chunk.id for hit in assistant.retriever.search(question, k=5)]


def load_index_embedder():
    from index.embedding import load_embedder

    return load_embedder("use")


def test_milvus_store_gives_the_faiss_ranking_and_follows_updates(tmp_path: Path, articles_copy: Path) -> None:
    uri = str(tmp_path / "milvus.db")
    faiss_dir = index(tmp_path, articles_copy, "faiss")
    milvus_dir = index(tmp_path, articles_copy, "milvus", "--store", "milvus", "--milvus-uri", uri)
    manifest = json.loads((milvus_dir / "current" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["dense"]["kind"] == "milvus" and manifest["dense"]["uri"] == uri
    milvus_index = load_index(milvus_dir)
    assert milvus_index.dense_store is not None and load_index(faiss_dir).dense_store is None
    for question in QUESTIONS:
        assert top_sources(milvus_dir, question) == top_sources(faiss_dir, question)

    # An update without the options keeps the index in Milvus, and the collection follows the corpus.
    (articles_copy / "port_expansion.txt").unlink()
    shutil.copy(ARTICLES / "library_fire.md", articles_copy / "library_fire_copy.md")
    updated = CliRunner().invoke(main, ["index", str(articles_copy), "--index-dir", str(milvus_dir),
                                        "--deep-model", "none"])
    assert updated.exit_code == 0, updated.output
    fresh = load_index(milvus_dir)
    stored = sorted(fresh.dense_store._stored_ids())
    assert stored == sorted(c.id for c in fresh.chunks)
    rows, scores = fresh.dense_store.search(fresh.vectors[0], 3)  # the copied file ties with its original
    assert fresh.chunks[rows[0]].text == fresh.chunks[0].text and np.isclose(scores[0], 1.0, atol=1e-4)


def test_milvus_without_uri_is_one_clear_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["index", str(ARTICLES), "--index-dir", str(tmp_path / "ix"),
                                       "--store", "milvus"])
    assert result.exit_code == 1 and "--store milvus needs --milvus-uri" in result.output
