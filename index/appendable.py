"""The files a generation shares with the next one by hard link when that one only appends passages.

``chunks.jsonl`` and ``vectors.f32`` are the big files (~300 MB at 20,000 articles). A generation that keeps
every passage of the previous one in place and adds new ones after them (an article given after the others)
links them and appends its rows: writing them whole made adding one article O(index size), ~1 s of its
2.5-4 s. Each generation's manifest records how many bytes of them are its own (their checksums cover only
those bytes, index/store.py) and a reader reads only those, so an older generation (loaded by a server, or
still current while the new one is written) reads what it always did. A build killed while appending leaves
bytes past the current generation's size, which nothing reads and the next append cuts first.
"""

import json
import mmap
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from index.chunk_list import ChunkList, MergedChunks
from index.records import Chunk

APPENDABLE = ("chunks.jsonl", "vectors.f32")


@dataclass(frozen=True)
class Stored:
    """The generation an index's first ``rows`` passages are already written in, and how many bytes of its
    appendable files are theirs: a new generation that only appends links those files and adds to them."""

    folder: Path
    rows: int
    sizes: dict[str, int]


def only_appends(sources: np.ndarray, previous_rows: int) -> bool:
    """Whether a generation whose row i was previous row ``sources[i]`` (-1: new) keeps all
    ``previous_rows`` rows in place and only adds rows after them (one new article): the files, the graph
    and BM25's base can then be shared or grown instead of written anew."""
    return (len(sources) >= previous_rows and bool((sources[previous_rows:] < 0).all())
            and np.array_equal(sources[:previous_rows], np.arange(previous_rows)))


@contextmanager
def appended(path: Path, stored: Stored | None) -> Iterator[BinaryIO]:
    """``path`` open for writing this generation's rows after ``stored``'s: its file linked (and cut back to
    its own size: a killed writer may have left a tail), or a new file when there is no previous one."""
    if stored is None:
        with open(path, "wb") as fh:
            yield fh
        return
    os.link(stored.folder / path.name, path)
    if path.stat().st_size > stored.sizes[path.name]:
        os.truncate(path, stored.sizes[path.name])  # no generation reads past its own size
    with open(path, "ab") as fh:
        yield fh


def chunk_lines(chunks: Sequence[Chunk], start: int) -> Iterator[bytes]:
    """Passages ``start``... as JSON lines: as stored where they were read from a generation."""
    if isinstance(chunks, MergedChunks):  # an update: unchanged passages copied as stored
        yield from chunks.lines(start)
    elif isinstance(chunks, ChunkList):  # the same passages again (a deep-layer step): as stored
        yield from (chunks.line(i) + b"\n" for i in range(start, len(chunks)))
    else:
        yield from ((json.dumps(c.to_dict(), ensure_ascii=False) + "\n").encode() for c in chunks[start:])


def passages(path: Path, size: int, manifest: dict, mapped: bool) -> ChunkList:
    """The generation's passages: read into memory (damage to the file then cannot reach an answer), or, for
    a build, memory-mapped (reading ~94 MB took ~0.1 s of adding one article at 20,000 articles)."""
    if not mapped:
        return ChunkList(read_prefix(path, size))
    with open(path, "rb") as fh:
        data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    if len(data) < size:
        raise ValueError(f"{path.name} has {len(data)} of its {size} bytes")
    return ChunkList(data, size, manifest["counts"]["passages"])


def read_prefix(path: Path, size: int) -> bytes:
    """The first ``size`` bytes of ``path``: the part of an appendable file that is this generation's."""
    with open(path, "rb") as fh:
        data = fh.read(size)
    if len(data) != size:
        raise ValueError(f"{path.name} has {len(data)} of its {size} bytes")
    return data
