"""Passages parsed on use: the same Chunks, in order, as parsing the whole file."""

import json

import numpy as np
import pytest

from index.chunk_list import ChunkList
from index.records import Chunk


def chunk(n: int) -> Chunk:
    return Chunk(id=f"c{n}", article_id="a", source="s.txt", title="عنوان", text=f"نص {n}\nسطر", start=0,
                 end=8, sentences=((0, 4), (5, 8)), metadata={"n": n})


def test_chunk_list_reads_lines_on_use() -> None:
    chunks = [chunk(n) for n in range(5)]
    data = "".join(json.dumps(c.to_dict(), ensure_ascii=False) + "\n" for c in chunks).encode()
    lazy = ChunkList(data)
    assert len(lazy) == 5 and lazy[3] == chunks[3] and lazy[-1] == chunks[4]
    assert list(lazy) == chunks and lazy[1:3] == chunks[1:3]
    with pytest.raises(IndexError):
        lazy[5]


def test_empty_and_damaged_files() -> None:
    assert len(ChunkList(b"")) == 0
    with pytest.raises(json.JSONDecodeError):
        ChunkList(b"\x00\x00\n").check()


def test_merged_chunks_copy_stored_lines_and_add_new_ones() -> None:
    from index.chunk_list import MergedChunks

    old = [chunk(n) for n in range(4)]
    stored = ChunkList("".join(json.dumps(c.to_dict(), ensure_ascii=False) + "\n" for c in old).encode())
    merged = MergedChunks(stored, np.array([2, -1, 0, -1]), [chunk(10), chunk(11)])
    assert list(merged) == [old[2], chunk(10), old[0], chunk(11)] and len(stored._parsed) == 2
    lines = b"".join(merged.lines())
    assert list(ChunkList(lines)) == list(merged)
    assert len(stored._parsed) == 2  # the copied rows were not parsed again
