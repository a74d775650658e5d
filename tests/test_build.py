"""Index builds: incremental updates, refusals, damaged files, and failures that leave the old index intact."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from benchmarks.faults import damage
from index.build import build_index
from index.embedding import DalilEmbedding
from index.errors import ArticleError, IndexDamaged, IndexMismatch, IndexMissing
from index.store import current_generation, load_index


class CountingEmbedding(DalilEmbedding):
    """Wraps the real embedder and counts what it is asked to embed; can fail after some passages."""

    inner: DalilEmbedding
    fail_after: int | None = None
    embedded: int = 0

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        if self.fail_after is not None and self.embedded + len(texts) > self.fail_after:
            raise KeyboardInterrupt  # what Ctrl-C raises in the middle of embedding
        self.embedded += len(texts)
        return self.inner.embed_passages(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self.inner.embed_query(text)


@pytest.fixture()
def counting(use_embedder) -> CountingEmbedding:
    return CountingEmbedding(inner=use_embedder, model_name=use_embedder.model_name, dim=use_embedder.dim,
                             passages_from_sentences=use_embedder.passages_from_sentences)


def texts_embedded(index) -> set[str]:
    """What building ``index`` with USE embeds: each distinct sentence once (its passage vectors are made from
    those, index/passage_vectors.py)."""
    return {t for c in index.chunks for t in c.sentence_texts()}


def sentence_mean(embedder: DalilEmbedding, chunk) -> np.ndarray:
    """The passage vector made from ``chunk``'s sentences: their vectors weighted by length, unit length."""
    texts = chunk.sentence_texts()
    mean = np.array([len(t) for t in texts], np.float32) @ embedder.embed_passages(texts)
    return mean / np.linalg.norm(mean)


def snapshot(index_dir: Path) -> dict[str, bytes]:
    folder = current_generation(index_dir)
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_build_then_update_embeds_only_changes(tmp_path: Path, articles_copy: Path, counting) -> None:
    index_dir = tmp_path / "index"
    first = build_index([articles_copy], index_dir, counting)
    old_texts = texts_embedded(load_index(index_dir))
    assert first.written and first.files == 4 and first.articles == 5 and first.embedded == len(old_texts)
    assert counting.embedded == len(old_texts)

    again = build_index([articles_copy], index_dir, counting)
    assert not again.written and counting.embedded == len(old_texts)  # nothing re-embedded

    fire = articles_copy / "library_fire.md"
    fire.write_text(fire.read_text(encoding="utf-8") + "\nThe mayor visited the site on Wednesday.\n",
                    encoding="utf-8")
    (articles_copy / "port_expansion.txt").unlink()
    before = counting.embedded
    update = build_index([articles_copy], index_dir, counting)
    assert update.changed == ["library_fire.md"] and update.removed == ["port_expansion.txt"]
    index = load_index(index_dir)
    new_texts = texts_embedded(index) - old_texts
    assert new_texts and counting.embedded - before == len(new_texts)  # the rest was cached
    assert update.embedded == len(new_texts) and index.sentences.complete
    assert not any(c.source == "port_expansion.txt" for c in index.chunks)
    # The reused vectors are the same rows as before; each is its sentences' mean.
    for row in (0, len(index.chunks) - 1):
        assert np.allclose(index.vectors[row], sentence_mean(counting.inner, index.chunks[row]), atol=1e-5)


def test_removed_then_restored_file_is_not_embedded_again(tmp_path: Path, articles_copy: Path, counting) -> None:
    index_dir = tmp_path / "index"
    build_index([articles_copy], index_dir, counting)
    fire = articles_copy / "library_fire.md"
    kept = fire.read_bytes()
    fire.unlink()
    build_index([articles_copy], index_dir, counting)
    before = counting.embedded
    fire.write_bytes(kept)
    report = build_index([articles_copy], index_dir, counting)
    assert report.added == ["library_fire.md"] and report.embedded == 0 and counting.embedded == before
    assert len(load_index(index_dir).chunks) == report.passages


def one_index_per_file(index) -> None:
    """Every file's passages once, in the manifest's order and counts."""
    files = index.manifest["files"]
    per_source = [c.source for c in index.chunks]
    expected = [record["source"] for record in files.values() for _ in range(record["passages"])]
    assert per_source == expected
    ids = [a["id"] for record in files.values() for a in record["articles"]]
    assert len(ids) == len(set(ids))  # no two articles share an id


@pytest.mark.parametrize("reach", ["a symlink", "the folder twice", "a file inside the folder too"])
def test_a_file_reached_twice_is_indexed_once_and_updates_stay_right(tmp_path: Path, articles_copy: Path,
                                                                     counting, reach: str) -> None:
    # It was indexed twice, under the resolved path that keys the manifest; the next update then matched
    # passages to the wrong files (an article lost, the old version of a changed one kept).
    paths = [articles_copy]
    if reach == "a symlink":
        (articles_copy / "fire-link.md").symlink_to(articles_copy / "library_fire.md")
    elif reach == "the folder twice":
        paths = [articles_copy, articles_copy]
    else:
        paths = [articles_copy, articles_copy / "library_fire.md"]
    index_dir = tmp_path / "index"
    first = build_index(paths, index_dir, counting)
    assert (first.files, first.articles) == (4, 5)
    one_index_per_file(load_index(index_dir))
    port = articles_copy / "port_expansion.txt"
    port.write_text(port.read_text(encoding="utf-8").replace("1200", "1300"), encoding="utf-8")
    update = build_index(paths, index_dir, counting)
    assert update.changed == ["port_expansion.txt"] and (update.files, update.articles) == (4, 5)
    index = load_index(index_dir)
    one_index_per_file(index)
    port_text = " ".join(c.text for c in index.chunks if c.source == "port_expansion.txt")
    assert "1300" in port_text and "1200" not in port_text
    assert {c.source for c in index.chunks} == {"port_expansion.txt", "library_fire.md", "world/briefs.jsonl",
                                                 "world/olive_harvest.html"}


@pytest.mark.parametrize("change", [True, False])
def test_an_index_that_holds_a_file_twice_is_put_right_by_the_next_update(
        tmp_path: Path, articles_copy: Path, counting, monkeypatch: pytest.MonkeyPatch, change: bool) -> None:
    from index import build

    link = articles_copy / "fire-link.md"
    link.symlink_to(articles_copy / "library_fire.md")
    with monkeypatch.context() as patch:  # as builds before the fix wrote it: the symlinked file twice
        patch.setattr(build, "find_files", lambda paths: [(path, path.relative_to(paths[0]).as_posix())
                                                          for path in sorted(paths[0].rglob("*.*"))])
        build_index([articles_copy], tmp_path / "index", counting)
    assert len(load_index(tmp_path / "index").chunks) == 11
    if change:
        port = articles_copy / "port_expansion.txt"
        port.write_text(port.read_text(encoding="utf-8").replace("1200", "1300"), encoding="utf-8")
    report = build_index([articles_copy], tmp_path / "index", counting)  # with nothing changed too
    assert report.written and any("held some files twice" in note for note in report.notes)
    index = load_index(tmp_path / "index")
    one_index_per_file(index)
    assert len(index.chunks) == 9 and "fire-link.md" not in {c.source for c in index.chunks}
    assert ("1300" in " ".join(c.text for c in index.chunks)) == change


def test_names_that_collide_three_ways_are_all_told_apart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from index.loading import find_files

    monkeypatch.chdir(tmp_path)
    for name in ("A/news.txt", "A/b/news.txt", "b/news.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(f"News\n\nThe text of {name}.\n", encoding="utf-8")
    sources = [source for _, source in find_files([Path("A"), Path("b")])]
    assert len(set(sources)) == 3 and sources[:2] == ["b/news.txt", "news.txt"]  # "b/news.txt" is A's


def test_files_of_the_same_name_in_two_folders_keep_apart(tmp_path: Path, counting) -> None:
    for folder, text in (("north", "Rain fell on the northern farms all week long."),
                         ("south", "The southern port opened a new fish market on Monday.")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "news.txt").write_text(f"News\n\n{text}\n", encoding="utf-8")
    index_dir = tmp_path / "index"
    build_index([tmp_path / "north", tmp_path / "south"], index_dir, counting)
    index = load_index(index_dir)
    one_index_per_file(index)
    assert [c.source for c in index.chunks] == ["news.txt", "south/news.txt"]


def test_interrupted_build_keeps_what_it_embedded(tmp_path: Path, articles_copy: Path, counting,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("index.embed_cache.FLUSH_EVERY", 1)
    monkeypatch.setattr("index.parallel_embed.BATCH", 2)
    index_dir = tmp_path / "index"
    counting.fail_after = 4
    with pytest.raises(KeyboardInterrupt):
        build_index([articles_copy], index_dir, counting)
    counting.fail_after = None
    report = build_index([articles_copy], index_dir, counting)
    assert report.embedded == len(texts_embedded(load_index(index_dir))) - 4
    assert counting.embedded == len(texts_embedded(load_index(index_dir)))  # the 4 were not embedded twice


def test_interrupted_build_leaves_previous_index(tmp_path: Path, articles_copy: Path, counting) -> None:
    index_dir = tmp_path / "index"
    build_index([articles_copy], index_dir, counting)
    before = snapshot(index_dir)
    (articles_copy / "new.txt").write_text("خبر جديد\n\n" + "جملة جديدة عن المدينة. " * 80, encoding="utf-8")
    counting.fail_after = counting.embedded + 1
    with pytest.raises(KeyboardInterrupt):
        build_index([articles_copy], index_dir, counting, rebuild=True)
    assert snapshot(index_dir) == before
    assert len(list(index_dir.glob("gen-*"))) == 1  # the half-written generation was removed


def test_bad_file_stops_the_build_unless_skipped(tmp_path: Path, articles_copy: Path, counting) -> None:
    index_dir = tmp_path / "index"
    build_index([articles_copy], index_dir, counting)
    before = snapshot(index_dir)
    (articles_copy / "empty.txt").write_text("", encoding="utf-8")
    with pytest.raises(ArticleError, match=r"(?s)empty.txt: the file is empty.*--skip-bad"):
        build_index([articles_copy], index_dir, counting)
    assert snapshot(index_dir) == before
    report = build_index([articles_copy], index_dir, counting, skip_bad=True)
    assert len(report.skipped) == 1 and "empty.txt" in report.skipped[0]


def test_index_built_with_another_embedder_is_refused(tmp_path: Path, articles_copy: Path, counting) -> None:
    index_dir = tmp_path / "index"
    build_index([articles_copy], index_dir, counting)
    other = CountingEmbedding(inner=counting.inner, model_name="st:other-model", dim=counting.dim)
    with pytest.raises(IndexMismatch) as caught:
        build_index([articles_copy], index_dir, other)
    message = str(caught.value)
    assert "use-m3" in message and "st:other-model" in message and "--rebuild" in message


@pytest.mark.parametrize("how", damage.DAMAGES)
@pytest.mark.parametrize("name", ["chunks.jsonl", "vectors.f32", "manifest.json", "lexical/vocabulary.json"])
def test_damaged_file_is_named(tmp_path: Path, fixture_index: Path, name: str, how: str) -> None:
    index_dir = tmp_path / "index"
    shutil.copytree(fixture_index, index_dir, symlinks=True)
    damage.damage(current_generation(index_dir) / name, how)
    with pytest.raises(IndexDamaged) as caught:
        load_index(index_dir)
    assert damage.names_the_problem(str(caught.value), name)


def test_missing_index_says_how_to_build(tmp_path: Path) -> None:
    with pytest.raises(IndexMissing, match="dalil index"):
        load_index(tmp_path / "nothing")


def test_manifest_records_settings_and_files(fixture_index: Path) -> None:
    manifest = json.loads((current_generation(fixture_index) / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["embedder"] == {"id": "use-m3", "dim": 512}
    assert set(manifest) >= {"normaliser_version", "tokeniser_version", "chunking", "files", "checksums"}
    assert all(len(record["sha256"]) == 64 for record in manifest["files"].values())


def test_big_files_are_checked_by_size_and_edges(tmp_path: Path, fixture_index: Path,
                                                 monkeypatch: pytest.MonkeyPatch, use_embedder) -> None:
    monkeypatch.setattr("index.store.FULL_CHECK_BYTES", 1000)
    monkeypatch.setattr("index.store.EDGE_BYTES", 100)
    index_dir = tmp_path / "index"
    build_index([Path(__file__).parent / "data" / "articles"], index_dir, use_embedder)
    manifest = json.loads((current_generation(index_dir) / "manifest.json").read_text(encoding="utf-8"))
    assert "edges_sha256" in manifest["checksums"]["vectors.f32"]
    path = current_generation(index_dir) / "vectors.f32"
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF  # the last bytes: caught
    path.write_bytes(bytes(data))
    with pytest.raises(IndexDamaged, match="vectors.f32"):
        load_index(index_dir)


def test_an_older_format_is_written_again_from_the_embedding_cache(tmp_path: Path, articles_copy: Path,
                                                                   counting) -> None:
    index_dir = tmp_path / "index"
    build_index([articles_copy], index_dir, counting)
    manifest_path = current_generation(index_dir) / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest_path.write_text(json.dumps(dict(manifest, format=manifest["format"] - 1)), encoding="utf-8")
    with pytest.raises(IndexMismatch, match="dalil index --index-dir"):
        load_index(index_dir)  # readers refuse it, saying how to upgrade it
    before = counting.embedded
    report = build_index([articles_copy], index_dir, counting)
    assert report.written and "written again in format" in report.notes[0]
    assert counting.embedded == before  # passages and sentences all came from the cache
    assert len(load_index(index_dir).chunks) == report.passages
