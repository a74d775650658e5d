"""The passages of a stored index, parsed from chunks.jsonl only when one is used.

A 20,000-article index has ~113,000 lines: parsing them all took ~2 s of every cold `dalil ask`, which
then reads about ten of them.
"""

import json
from collections.abc import Iterator, Sequence

import numpy as np

from index.records import Chunk


class ChunkList(Sequence[Chunk]):
    """A read-only list of Chunks over the bytes of chunks.jsonl (one passage per line)."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == ord("\n"))
        self._starts = np.concatenate([[0], ends[:-1] + 1]) if len(ends) else np.zeros(0, dtype=np.int64)
        self._ends = ends
        self._parsed: dict[int, Chunk] = {}

    def __len__(self) -> int:
        return len(self._ends)

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
            line = self._data[self._starts[i]:self._ends[i]]
            chunk = self._parsed[i] = Chunk.from_dict(json.loads(line))
        return chunk

    def __iter__(self) -> Iterator[Chunk]:
        return (self[i] for i in range(len(self)))

    def check(self) -> None:
        """Parse the first and last passage: a file that is not passages fails here, at load."""
        if len(self):
            self[0], self[len(self) - 1]
