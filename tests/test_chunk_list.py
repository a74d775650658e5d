"""Passages parsed on use: the same Chunks, in order, as parsing the whole file."""

import json

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
