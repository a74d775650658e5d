"""The served library follows generations that another process publishes (a `dalil index` run, deep steps)."""

import time
from pathlib import Path

from assistant.qa import Assistant
from assistant.settings import Settings
from index.build import build_index
from index.embedding import load_embedder
from index.store import load_index
from ui.library import Library


def wait_for(condition, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_a_generation_published_elsewhere_is_loaded_at_the_next_question(
        tmp_path: Path, articles_copy: Path, use_embedder, tiny_st_model: Path) -> None:
    index_dir = tmp_path / "index"
    build_index([articles_copy], index_dir, use_embedder)
    library = Library(Assistant(load_index(index_dir), use_embedder, Settings(index_dir=index_dir)))
    try:
        assert library.health()["deep"] is None
        (articles_copy / "bridge.txt").write_text("The new bridge over the dry river opened on Monday.\n",
                                                  encoding="utf-8")
        # What `dalil index` in another process does: a new generation, here with a deep layer too.
        build_index([articles_copy], index_dir, use_embedder, deep_embedder=load_embedder(str(tiny_st_model)))
        first = library.answer("When did the bridge open?")  # answered from the old index meanwhile
        assert all(c.source != "bridge.txt" for c in first.citations)
        assert wait_for(lambda: library.assistant.index.deep is not None)
        assert library.health()["deep"]["done"] == library.health()["passages"]
        assert library.assistant.deep_embedder is not None  # loaded for the layer it found
        answer = library.answer("When did the bridge open?")
        assert any(c.source == "bridge.txt" for c in answer.citations)
    finally:
        library.close()


def test_a_damaged_published_generation_is_skipped(tmp_path: Path, articles_copy: Path, use_embedder) -> None:
    index_dir = tmp_path / "index"
    build_index([articles_copy], index_dir, use_embedder)
    library = Library(Assistant(load_index(index_dir), use_embedder, Settings(index_dir=index_dir)))
    try:
        loaded = library.assistant
        (articles_copy / "bridge.txt").write_text("The bridge opened on Monday.\n", encoding="utf-8")
        build_index([articles_copy], index_dir, use_embedder)
        (index_dir / "current" / "chunks.jsonl").write_text("damaged", encoding="utf-8")
        assert library.answer("When did the library fire start?").citations  # still answers
        assert wait_for(lambda: not library._following)
        assert library.assistant is loaded  # the damaged generation was not loaded
        assert library.answer("When did the library fire start?").citations
    finally:
        library.close()
