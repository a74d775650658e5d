"""The fast encoder's vector of every sentence, so the answer step embeds nothing at question time.

The answer step scores every sentence of the top passages; embedding them per question took ~35-55 ms of a
warm answer at 20,000 articles (USE's forward pass over ~15 sentences), more than everything else. They
come with the fast layer when its passage vectors are made from them (USE: index/passage_vectors.py), and
are otherwise filled in right after the fast layer is published, in steps like the deep layer, through the
embedding cache (a one-sentence passage's sentence is its passage, already embedded); the answer step embeds
only the sentences of passages not done yet.

The vectors stay in the embedding cache (index/embed_cache.py: append-only, rows never move); a generation
stores only which cache row holds each sentence, 8 bytes instead of 2 KB. So an update writes ~2 MB for
the ~285k sentences of 20,000 articles instead of copying 580 MB of vectors.

Files in a generation::

    sentences-rows.npy     (sentences,) int64: the cache row of every sentence, in passage order; -1: not yet
    sentences-offsets.npy  (passages + 1,) int64: index of each passage's first sentence
    sentences-done.npy     (passages,) bool
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.embed_cache import CachedVectors
from index.records import Chunk

FILES = ("sentences-rows.npy", "sentences-offsets.npy", "sentences-done.npy")


@dataclass
class SentenceLayer:
    """Where the fast encoder's sentence vectors are, aligned with an index's passages."""

    rows: np.ndarray  # (sum of sentence counts,) int64 cache row, -1 where not embedded yet
    offsets: np.ndarray  # (n + 1,) index of passage i's first sentence
    done: np.ndarray  # (n,) bool
    cache: CachedVectors | None = None  # the rows' vectors (set on load)

    @classmethod
    def empty(cls, chunks: list[Chunk]) -> "SentenceLayer":
        offsets = sentence_offsets(chunks)
        return cls(np.full(offsets[-1], -1, np.int64), offsets, np.zeros(len(chunks), bool))

    @property
    def complete(self) -> bool:
        return bool(self.done.all())

    def rows_for(self, passage: int) -> slice:
        return slice(int(self.offsets[passage]), int(self.offsets[passage + 1]))

    def matrix(self, dim: int, sentences: np.ndarray | list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The vectors of ``sentences`` (by index; default all) as one matrix, zeros where the cache does
        not hold them yet, and which ones it holds."""
        rows = self.rows if sentences is None else self.rows[sentences]
        found = self.cache.available(rows) if self.cache is not None else np.zeros(len(rows), bool)
        out = np.zeros((len(rows), dim), np.float32)
        if found.any():
            out[found] = self.cache.get(rows[found])
        return out, found

    def take(self, rows: list[int]) -> "SentenceLayer":
        """The layer for a subset of passages, in the order given (for a rebuilt index reusing rows); a
        passage not done loses its rows (they may name a cache since deleted) and is filled again."""
        picked, offsets = sentence_rows(self.offsets, rows)
        done = self.done[rows]
        kept = np.where(np.repeat(done, np.diff(offsets)), self.rows[picked], -1)
        return SentenceLayer(kept, offsets, done)

    def _rows_in_cache(self) -> np.ndarray:
        """Per passage: the cache holds every one of its sentences' rows (rows of a cache since deleted,
        after an interrupted --rebuild, are not there: the generation names another cache)."""
        missing = ~self.cache.available(self.rows)
        whole = np.ones(len(self.done), bool)
        has = np.diff(self.offsets) > 0
        if missing.size:
            whole[has] = ~np.logical_or.reduceat(missing, self.offsets[:-1][has])
        return whole

    def save(self, folder: Path) -> None:
        for name, array in zip(FILES, (self.rows, self.offsets, self.done), strict=True):
            np.save(folder / name, array)

    @classmethod
    def load(cls, folder: Path, passage_count: int, cache: CachedVectors) -> "SentenceLayer":
        rows, offsets, done = (np.load(folder / name) for name in FILES)
        if offsets.shape != (passage_count + 1,) or done.shape != (passage_count,) or rows.shape != (offsets[-1],):
            raise ValueError(f"the sentence layer has {rows.shape[0]} rows for {passage_count} passages")
        layer = cls(rows, offsets, done, cache)
        layer.done &= layer._rows_in_cache()  # as for the deep layer: not done, to be filled again
        return layer

    def fill(self, chunks: list[Chunk], cached_rows: Callable[[list[str]], np.ndarray], passages: list[int]) -> None:
        """Give passages ``passages`` their sentences' cache rows, in place (``cached_rows`` embeds what
        the cache lacks)."""
        self.place(passages, cached_rows([t for i in passages for t in chunks[i].sentence_texts()]))

    def place(self, passages: list[int], rows: np.ndarray) -> None:
        """Record ``rows``, the cache rows of passages ``passages``' sentences in that order; they are done."""
        if not passages:
            return
        spans = [self.rows_for(i) for i in passages]
        self.rows[np.concatenate([np.arange(s.start, s.stop) for s in spans]).astype(np.int64)] = rows
        self.done[passages] = True


def sentence_offsets(chunks: list[Chunk]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum([len(c.sentences) for c in chunks])]).astype(np.int64)


def sentence_rows(offsets: np.ndarray, rows: list[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sentence rows of passages ``rows`` in that order, and the offsets of those passages among them."""
    rows = np.asarray(rows, dtype=np.int64)
    starts = offsets[rows]
    counts = offsets[rows + 1] - starts
    picked = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts) + np.arange(int(counts.sum()))
    return picked.astype(np.int64), np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def joined_offsets(parts: list[np.ndarray]) -> np.ndarray:
    """The sentence offsets of consecutive passage ranges joined into one."""
    counts = np.concatenate([np.diff(offsets) for offsets in parts])
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def concatenate(parts: list[SentenceLayer]) -> SentenceLayer:
    """Layers of consecutive passage ranges joined into one."""
    return SentenceLayer(np.concatenate([p.rows for p in parts]), joined_offsets([p.offsets for p in parts]),
                         np.concatenate([p.done for p in parts]))
