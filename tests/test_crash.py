"""Crash safety: killed builds leave the old or the new index, a dead writer's lock and leftovers are cleared."""

import fcntl
import os
from pathlib import Path

import pytest

from benchmarks.faults import crash, deep_crash
from index import store
from index.build import EMBED_CACHE, build_index
from index.errors import IndexError_
from index.store import CURRENT, current_generation, load_index


@pytest.mark.slow
def test_sigkilled_index_runs_leave_before_or_after(tmp_path: Path, use_embedder) -> None:
    """The CI version of benchmarks/faults/crash.py: an update and an append (which appends to the previous
    generation's files) killed while starting and while writing."""
    figures = crash.run(tmp_path, articles=20, kills=2, kinds=("update", "append"), at=[(0.3, False), (0.0, True)],
                        embedder=use_embedder, checks=3)
    assert figures["kills"] == 4 and figures["landed"]["exited"] == 0
    assert figures["failures"] == 0, [t for t in figures["trials"] if not t["ok"]]


def test_a_killed_writers_leftovers_are_cleared(tmp_path: Path, articles_copy: Path, use_embedder) -> None:
    index_dir = tmp_path / "index"
    build_index([articles_copy], index_dir, use_embedder)
    generation = current_generation(index_dir)
    # What a writer killed half-way leaves: a partial generation, a temporary link, its pid in the lock file.
    (index_dir / "gen-20000101-000000-99999-1").mkdir()
    (index_dir / "gen-20000101-000000-99999-1" / "chunks.jsonl").write_text("{", encoding="utf-8")
    (index_dir / f".{CURRENT}.99999").symlink_to("gen-20000101-000000-99999-1")
    (index_dir / ".lock").write_text("99999\n")
    report = build_index([articles_copy], index_dir, use_embedder)  # up to date: nothing to write
    assert not report.written and current_generation(index_dir) == generation
    left = sorted(p.name for p in index_dir.iterdir() if p.name != EMBED_CACHE)  # the cache is no leftover
    assert left == [".lock", CURRENT, generation.name]
    assert (index_dir / ".lock").read_text() == f"{os.getpid()}\n"


def test_a_live_writer_is_named_and_waited_for(tmp_path: Path, articles_copy: Path, use_embedder) -> None:
    index_dir = tmp_path / "index"
    build_index([articles_copy], index_dir, use_embedder)
    fd = os.open(index_dir / ".lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # another writer, as far as the build can tell
        os.pwrite(fd, b"4242\n", 0)
        with pytest.raises(IndexError_, match=r"Another process \(pid 4242\) is updating.*Wait for it"):
            build_index([articles_copy], index_dir, use_embedder, rebuild=True)
    finally:
        os.close(fd)
    assert build_index([articles_copy], index_dir, use_embedder, rebuild=True).written


def test_a_reader_whose_generation_vanishes_reads_the_new_one(tmp_path: Path, articles_copy: Path, use_embedder,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A build deletes the generation it replaced; a reader half-way through it must not call the index damaged."""
    index_dir = tmp_path / "index"
    build_index([articles_copy], index_dir, use_embedder)
    first = current_generation(index_dir)
    read_manifest = store._read_manifest

    def publish_meanwhile(folder: Path, index_dir_: Path) -> dict:
        manifest = read_manifest(folder, index_dir_)
        if folder == first:  # the reader has the manifest; a writer now swaps `current` and removes `first`
            build_index([articles_copy], index_dir, use_embedder, rebuild=True)
        return manifest

    monkeypatch.setattr(store, "_read_manifest", publish_meanwhile)
    index = load_index(index_dir)
    assert not first.exists() and index.manifest == read_manifest(current_generation(index_dir), index_dir)


@pytest.mark.slow
def test_sigkilled_deep_fill_keeps_done_rows_and_resumes(tmp_path: Path) -> None:
    """The CI version of benchmarks/faults/deep_crash.py: an in-place update killed during its e5 fill.

    Kills are timed from the run's first publish: spread over the whole run, a run this small was killed while
    Python was still starting every time, and no kill reached the fill (seen in a review)."""
    figures = deep_crash.run(tmp_path, articles=12, kills=3, kinds=("update",), from_first_publish=True)
    assert figures["kills"] == 3
    assert figures["failures"] == 0, [t for t in figures["trials"] if not t["ok"]]
    assert figures["states"].get("partial", 0) >= 1, figures["states"]  # killed mid-fill, the kept rows checked


def test_ctrl_c_right_after_the_switch_keeps_the_new_generation(tmp_path: Path, articles_copy: Path, use_embedder,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A KeyboardInterrupt raised once `current` points at the new generation must not delete it (it did: the
    next build found no index and built everything again, dropping the deep layer's done rows)."""
    index_dir = tmp_path / "index"
    build_index([articles_copy], index_dir, use_embedder)
    (articles_copy / "extra.txt").write_text("A new bridge opened in the north of the city on Monday.\n",
                                             encoding="utf-8")
    fsync_dir = store._fsync_dir

    def interrupted(folder: Path) -> None:
        fsync_dir(folder)
        if folder == index_dir:  # the index folder is synced right after the switch
            raise KeyboardInterrupt

    monkeypatch.setattr(store, "_fsync_dir", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build_index([articles_copy], index_dir, use_embedder)
    monkeypatch.undo()
    assert any(c.source == "extra.txt" for c in load_index(index_dir).chunks)
    assert not build_index([articles_copy], index_dir, use_embedder).written  # up to date, not rebuilt
