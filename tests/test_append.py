"""Adding an article after the others: the new generation shares the big files with the previous one (hard
links, appended to), each generation reads only its own rows, and the index equals one built afresh."""

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from index import store
from index.build import EMBED_CACHE, build_index
from index.lexical import tokenise
from index.store import APPENDABLE, PassageIndex, current_generation, load_index
from tests.test_deep import deep_counting  # noqa: F401  (a fixture)

NEW = "A new bridge opened in the north of the city on Monday. It carries two lanes each way.\n"
QUESTIONS = ("library fire", "الميناء", "new bridge north", "harvest olives")


def later_file(tmp_path: Path) -> Path:
    """An article given after the corpus folder: its passages go after every other one."""
    path = tmp_path / "later" / "bridge.txt"
    path.parent.mkdir()
    path.write_text(NEW, encoding="utf-8")
    return path


def fresh_build(tmp_path: Path, paths: list[Path], index_dir: Path, embedder, **options) -> PassageIndex:
    """The same corpus built in a new folder, from a copy of the index's embedding cache: the same vectors
    to the bit (embedded afresh, a passage's vector differs in the last digits with its batch)."""
    fresh_dir = tmp_path / "fresh"
    shutil.copytree(index_dir / EMBED_CACHE, fresh_dir / EMBED_CACHE)
    build_index(paths, fresh_dir, embedder, **options)
    return load_index(fresh_dir)


def assert_same_index(got, fresh) -> None:
    """Same passages, vectors, BM25 scores, sentence and deep vectors as the index built afresh."""
    assert [c.to_dict() for c in got.chunks] == [c.to_dict() for c in fresh.chunks]
    assert np.array_equal(got.vectors, fresh.vectors)
    for question in QUESTIONS:
        assert np.allclose(got.lexical.scores(tokenise(question)), fresh.lexical.scores(tokenise(question)), atol=1e-6)
        assert got.lexical.coverage(tokenise(question)) == fresh.lexical.coverage(tokenise(question))
    dim = got.dim
    assert np.array_equal(got.sentences.matrix(dim)[0], fresh.sentences.matrix(dim)[0])
    assert (got.moments is None) == (fresh.moments is None) and got.approximate == fresh.approximate
    if got.moments is not None:
        query = fresh.vectors[0]
        assert np.allclose(got.moments.mean_and_spread(query), fresh.moments.mean_and_spread(query), atol=1e-6)
    assert (got.deep is None) == (fresh.deep is None)
    if got.deep is not None:
        assert np.array_equal(got.deep.done, fresh.deep.done)
        assert np.allclose(got.deep.passages[:], fresh.deep.passages[:], atol=1e-6)
        assert np.allclose(got.deep.sentences[:], fresh.deep.sentences[:], atol=1e-6)


@pytest.mark.parametrize("flat_max", ["20000", "0"])  # a flat index, and a graph index with moments
def test_an_appended_article_shares_the_files_and_equals_a_fresh_build(
        tmp_path: Path, articles_copy: Path, use_embedder, monkeypatch: pytest.MonkeyPatch, flat_max: str) -> None:
    monkeypatch.setenv("DALIL_FLAT_MAX", flat_max)
    index_dir, new = tmp_path / "index", later_file(tmp_path)
    build_index([articles_copy], index_dir, use_embedder)
    before = current_generation(index_dir)
    old = load_index(index_dir)
    inodes = {name: (before / name).stat().st_ino for name in APPENDABLE + ("lexical/frequencies.npz",)}
    monkeypatch.setattr(store, "remove_old_generations", lambda index_dir: None)  # keep `before` to read it

    report = build_index([articles_copy, new], index_dir, use_embedder)
    assert report.added == ["bridge.txt"] and not report.changed and not report.removed
    after = current_generation(index_dir)
    assert {name: (after / name).stat().st_ino for name in inodes} == inodes  # linked, not written again
    # The older generation reads exactly what it did, though its files grew under it.
    again = store._load_generation(before, index_dir)
    assert [c.id for c in again.chunks] == [c.id for c in old.chunks]
    assert np.array_equal(again.vectors, old.vectors)

    assert_same_index(load_index(index_dir), fresh_build(tmp_path, [articles_copy, new], index_dir, use_embedder))


def test_a_deep_layer_add_writes_rows_not_vectors(tmp_path: Path, articles_copy: Path, use_embedder,
                                                  deep_counting) -> None:  # noqa: F811
    index_dir, new = tmp_path / "index", later_file(tmp_path)
    build_index([articles_copy], index_dir, use_embedder, deep_embedder=deep_counting)
    build_index([articles_copy, new], index_dir, use_embedder, deep_embedder=deep_counting)
    generation = current_generation(index_dir)
    index = load_index(index_dir)
    sentences = int(index.deep.offsets[-1])
    # 8 bytes a passage and a sentence (plus .npy headers), not a vector of each.
    deep_bytes = sum(p.stat().st_size for p in generation.glob("deep-*"))
    assert deep_bytes < 8 * (2 * len(index.chunks) + sentences + 1) + 3 * 256
    assert_same_index(index, fresh_build(tmp_path, [articles_copy, new], index_dir, use_embedder,
                                         deep_embedder=deep_counting))


def test_an_add_killed_while_appending_leaves_the_old_index_and_the_next_build_cuts_the_tail(
        tmp_path: Path, articles_copy: Path, use_embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DALIL_FLAT_MAX", "0")
    index_dir, new = tmp_path / "index", later_file(tmp_path)
    build_index([articles_copy], index_dir, use_embedder)
    before = load_index(index_dir)
    sizes = {name: (current_generation(index_dir) / name).stat().st_size for name in APPENDABLE}

    def killed(*args, **kwargs) -> None:  # dies after the appends, before the manifest is written
        raise KeyboardInterrupt

    with monkeypatch.context() as patched:
        patched.setattr(store.hnsw, "save", killed)
        with pytest.raises(KeyboardInterrupt):
            build_index([articles_copy, new], index_dir, use_embedder)
    generation = current_generation(index_dir)
    # The shared files kept the dead writer's rows after the current generation's; it reads its own only.
    assert all((generation / name).stat().st_size > sizes[name] for name in APPENDABLE)
    with open(generation / "chunks.jsonl", "ab") as fh:
        fh.write(b'{"torn')  # and a half-written line, as SIGKILL would leave
    reread = load_index(index_dir)
    assert [c.id for c in reread.chunks] == [c.id for c in before.chunks]
    assert np.array_equal(reread.vectors, before.vectors)

    build_index([articles_copy, new], index_dir, use_embedder)
    assert_same_index(load_index(index_dir), fresh_build(tmp_path, [articles_copy, new], index_dir, use_embedder))
    generation = current_generation(index_dir)
    manifest = store.read_manifest(index_dir)
    assert all((generation / name).stat().st_size == manifest["checksums"][name]["size"] for name in APPENDABLE)
    assert sorted(p.name for p in index_dir.glob("gen-*")) == [generation.name]


def test_a_change_in_the_middle_writes_the_files_anew(tmp_path: Path, articles_copy: Path, use_embedder) -> None:
    index_dir = tmp_path / "index"
    build_index([articles_copy], index_dir, use_embedder)
    inode = (current_generation(index_dir) / "chunks.jsonl").stat().st_ino
    os.remove(articles_copy / "port_expansion.txt")
    build_index([articles_copy], index_dir, use_embedder)
    generation = current_generation(index_dir)
    assert (generation / "chunks.jsonl").stat().st_ino != inode
    assert_same_index(load_index(index_dir), fresh_build(tmp_path, [articles_copy], index_dir, use_embedder))


def test_sentence_rows_into_a_deleted_cache_are_filled_again(tmp_path: Path, articles_copy: Path,
                                                             use_embedder) -> None:
    """An interrupted --rebuild deletes the embedding cache and starts a new one; the current generation's
    sentence rows name the old one. The next update must embed those sentences again, not read whatever the
    new cache holds at those rows."""
    from index.embed_cache import embed_with_cache

    index_dir = tmp_path / "index"
    build_index([articles_copy], index_dir, use_embedder)
    old = load_index(index_dir)
    shutil.rmtree(index_dir / EMBED_CACHE)  # what the killed --rebuild left: a new cache, nothing published
    embed_with_cache([c.text for c in old.chunks][::-1], use_embedder, index_dir / EMBED_CACHE)
    build_index([articles_copy, later_file(tmp_path)], index_dir, use_embedder)
    new = load_index(index_dir)
    assert new.sentences.complete
    texts = [t for c in new.chunks for t in c.sentence_texts()]
    vectors, found = new.sentences.matrix(use_embedder.dim)
    assert found.all()
    assert np.allclose(vectors, use_embedder.embed_passages(texts), atol=1e-5)


def test_every_publish_of_a_build_links_the_big_files_with_a_relative_index_dir(
        tmp_path: Path, articles_copy: Path, use_embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default --index-dir is relative: the generations a build publishes one after another (exact search,
    then the graph) still share chunks.jsonl and vectors.f32 instead of writing them again."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DALIL_FLAT_MAX", "3")  # a first build above it publishes twice
    inodes: list[int] = []
    publish = store.save_index

    def recording(index_dir: Path, index: PassageIndex) -> Path:
        folder = publish(index_dir, index)
        inodes.append((folder / "vectors.f32").stat().st_ino)
        return folder

    monkeypatch.setattr("index.build.save_index", recording)
    build_index([articles_copy], Path("index"), use_embedder)
    assert len(inodes) >= 2 and len(set(inodes)) == 1
