"""The passages of a stored index, parsed from chunks.jsonl only when one is used.

A 20,000-article index has ~113,000 lines: parsing them all took ~2 s of every cold `dalil ask`, which
then reads about ten of them.
"""

import json
import mmap
from collections.abc import Iterator, Sequence

import numpy as np

from index.records import Chunk


class ChunkList(Sequence[Chunk]):
    """A read-only list of Chunks over the bytes of chunks.jsonl (one passage per line)."""

    def __init__(self, data: bytes | mmap.mmap, size: int | None = None, count: int | None = None) -> None:
        """Over the first ``size`` bytes of ``data`` (default all), which hold ``count`` lines (default:
        counted); a build reading the index to update it passes its file memory-mapped, and the counts."""
        self._data, self._size = data, len(data) if size is None else size
        self._count = data.count(b"\n", 0, self._size) if count is None else count
        # Where each line starts and ends, found on first use: scanning ~94 MB at 20,000 articles took 0.1-0.25 s,
        # and an update that only appends passages reads none of the stored ones.
        self._bounds: tuple[np.ndarray, np.ndarray] | None = None
        self._parsed: dict[int, Chunk] = {}

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, i):  # type: ignore[override]  # int -> Chunk, slice -> list
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = int(i)
        if i < 0:
            i += len(self)
        chunk = self._parsed.get(i)
        if chunk is None:
            if not 0 <= i < len(self):
                raise IndexError(i)
            chunk = self._parsed[i] = Chunk.from_dict(json.loads(self.line(i)))
        return chunk

    def __iter__(self) -> Iterator[Chunk]:
        return (self[i] for i in range(len(self)))

    def check(self) -> None:
        """Parse the first and last passage: a file that is not passages fails here, at load."""
        if len(self):
            self[0], self[len(self) - 1]

    def line(self, i: int) -> bytes:
        """Passage ``i`` as stored (one JSON line, without its newline)."""
        if i == 0:  # the first and last, which ``check`` reads, without the scan
            return self._data[:self._data.find(b"\n", 0, self._size)]
        if i == len(self) - 1:
            end = self._data.rfind(b"\n", 0, self._size)
            return self._data[self._data.rfind(b"\n", 0, end) + 1:end]
        if self._bounds is None:
            ends = np.flatnonzero(np.frombuffer(self._data, dtype=np.uint8, count=self._size) == ord("\n"))
            self._bounds = (np.concatenate([[0], ends[:-1] + 1]), ends)
        starts, ends = self._bounds
        return self._data[starts[i]:ends[i]]


class MergedChunks(Sequence[Chunk]):
    """The passages of a new generation: rows of the previous one, written back as their stored lines
    without being parsed (an update of a 113,000-passage index would otherwise parse and re-encode them
    all), and the new passages."""

    def __init__(self, previous: Sequence[Chunk] | None, sources: np.ndarray, new: list[Chunk]) -> None:
        self._previous, self._sources, self.new = previous, sources, new
        self._new_at = np.cumsum(sources < 0) - 1  # row -> position in ``new`` (where sources < 0)

    def __len__(self) -> int:
        return len(self._sources)

    def __getitem__(self, i):  # type: ignore[override]  # int -> Chunk, slice -> list
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        source = self._sources[int(i)]
        return self._previous[int(source)] if source >= 0 else self.new[int(self._new_at[int(i)])]

    def __iter__(self) -> Iterator[Chunk]:
        return (self[i] for i in range(len(self)))

    def lines(self, start: int = 0) -> Iterator[bytes]:
        """Each passage from row ``start`` on as one JSON line (with its newline), in row order."""
        stored = self._previous if isinstance(self._previous, ChunkList) else None
        for i, source in enumerate(self._sources[start:].tolist(), start):
            if stored is not None and source >= 0:
                yield stored.line(int(source)) + b"\n"
            else:
                yield (json.dumps(self[i].to_dict(), ensure_ascii=False) + "\n").encode("utf-8")
