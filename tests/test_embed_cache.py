"""The embedding cache (by text hash and embedder) and parallel embedding in worker processes."""

from pathlib import Path

import numpy as np
import pytest

from index import parallel_embed
from index.embed_cache import EmbeddingCache, embed_with_cache, text_key


def test_cache_returns_stored_vectors_and_embeds_only_new_text(tmp_path: Path, use_embedder) -> None:
    first, embedded = embed_with_cache(["حريق في المكتبة", "port"], use_embedder, tmp_path)
    assert embedded == 2
    again, embedded = embed_with_cache(["port", "افتتاح خط القطار", "حريق في المكتبة"], use_embedder, tmp_path)
    assert embedded == 1
    assert np.array_equal(again[0], first[1]) and np.array_equal(again[2], first[0])
    assert np.allclose(again[1], use_embedder.embed_passages(["افتتاح خط القطار"])[0], atol=1e-6)


def test_cache_is_per_embedder(tmp_path: Path, use_embedder) -> None:
    embed_with_cache(["port"], use_embedder, tmp_path)
    other = use_embedder.model_copy(update={"model_name": "use-m3-other"})
    assert embed_with_cache(["port"], other, tmp_path)[1] == 1


def test_torn_tail_is_ignored(tmp_path: Path, use_embedder) -> None:
    embed_with_cache(["one", "two"], use_embedder, tmp_path)
    cache = EmbeddingCache(tmp_path, use_embedder)
    with open(cache.folder / "vectors.f32", "ab") as fh:  # a build killed after writing a vector, before its key
        fh.write(b"\x00" * 100)
    reloaded = EmbeddingCache(tmp_path, use_embedder)
    assert reloaded.count == 2 and reloaded.rows_of([text_key("two"), text_key("three")]).tolist() == [1, -1]
    # Text cached after the torn tail gets its own vector back, not the tail's bytes.
    vectors, embedded = embed_with_cache(["three", "four"], use_embedder, tmp_path)
    again, none = embed_with_cache(["four", "three", "one"], use_embedder, tmp_path)
    assert embedded == 2 and none == 0
    assert np.array_equal(again[0], vectors[1]) and np.array_equal(again[1], vectors[0])
    rows = EmbeddingCache(tmp_path, use_embedder).rows_of([text_key("one"), text_key("three"), text_key("four")])
    assert rows.tolist() == [0, 2, 3]


def test_rows_are_known_as_soon_as_appended(tmp_path: Path, use_embedder) -> None:
    cache = EmbeddingCache(tmp_path, use_embedder)
    vectors, _ = embed_with_cache(["one", "two"], use_embedder, tmp_path, cache=cache)
    assert cache.rows_of([text_key("two"), text_key("one")]).tolist() == [1, 0]
    again, embedded = embed_with_cache(["two", "three"], use_embedder, tmp_path, cache=cache)
    assert embedded == 1 and np.array_equal(again[0], vectors[1])  # read back through the same cache


@pytest.mark.parametrize("scan_max", [0, 1000])  # lookups through the dict of every key, or by scanning
def test_a_lookup_finds_the_first_row_of_a_key_either_way(tmp_path: Path, use_embedder, scan_max: int,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("index.embed_cache.SCAN_MAX", scan_max)
    embed_with_cache(["one", "two", "one"], use_embedder, tmp_path)  # equal texts in one batch: two rows
    cache = EmbeddingCache(tmp_path, use_embedder)
    assert cache.count == 3 and cache.rows_of([text_key("one"), text_key("two")]).tolist() == [0, 1]
    embed_with_cache(["three", "three"], use_embedder, tmp_path, cache=cache)
    assert cache.rows_of([text_key("three"), text_key("four")]).tolist() == [3, -1]


def test_worker_processes_give_the_same_vectors(use_embedder, monkeypatch) -> None:
    monkeypatch.setattr(parallel_embed, "PARALLEL_MIN", 1)
    monkeypatch.setattr(parallel_embed, "BATCH", 3)
    texts = ["حريق في المكتبة", "port", "افتتاح خط القطار", "The mayor visited", "مدينة الواحة"]
    done: list[int] = []
    vectors = parallel_embed.embed(texts, use_embedder, progress=lambda n, total: done.append(n), workers=2)
    assert np.allclose(vectors, use_embedder.embed_passages(texts), atol=1e-5)
    assert done == [3, 5]
