"""The deep layer: a second, slower encoder's vectors for every passage and every sentence.

multilingual-e5-small finds the right passage first far more often than USE, across languages too, but
embeds 14-20x slower (../shared/PITFALLS.md). So an index is usable as soon as the fast layer (USE + BM25)
is written, and the deep layer is filled in behind it: rows are embedded in batches and published as a
new generation about once a minute (index/build.py), so answers improve as it lands. ``done[i]`` says
whether passage ``i`` and its sentences have deep vectors yet; a row that is not done reads as zeros and
retrieval falls back to the fast layer's scores for it.

The vectors stay in the deep encoder's part of the embedding cache (index/embed_cache.py: append-only, rows
never move), as the fast encoder's sentence vectors do (index/sentence_layer.py): a generation stores only
which cache row holds each vector, 8 bytes instead of 1.5 KB. Storing the vectors themselves made every
publish copy them all (~1.3 GB at 20,000 articles, full): each step of the fill, and each added article.

Files in a generation::

    deep-passage-rows.npy   (passages,) int64: the cache row of each passage's vector; -1: not done yet
    deep-sentence-rows.npy  (sentences,) int64: the cache row of every sentence, in passage order
    deep-offsets.npy        (passages + 1,) int64: index of each passage's first sentence (stored, so
                            loading does not parse every passage to count its sentences)
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from index.embed_cache import CachedRows, CachedVectors
from index.records import Chunk
from index.sentence_layer import joined_offsets, sentence_offsets, sentence_rows

FILES = ("deep-passage-rows.npy", "deep-sentence-rows.npy", "deep-offsets.npy")


@dataclass
class DeepLayer:
    """Where the second encoder's vectors are, aligned with an index's passages and their sentences."""

    model_id: str
    dim: int
    passage_rows: np.ndarray  # (n,) int64 cache row, -1 where not done
    sentence_rows: np.ndarray  # (sum of sentence counts,) int64 cache row, -1 where not done
    offsets: np.ndarray  # (n + 1,) index of passage i's first sentence; its last is offsets[i + 1] - 1
    cache: CachedVectors | None = None  # the rows' vectors (set on load)
    done: np.ndarray = field(init=False)  # (n,) bool

    def __post_init__(self) -> None:
        self.done = self.passage_rows >= 0
        if self.cache is not None:  # rows of another cache than the one recorded read as not done
            self.done &= self.cache.available(self.passage_rows)

    @classmethod
    def empty(cls, model_id: str, dim: int, chunks: list[Chunk]) -> "DeepLayer":
        offsets = sentence_offsets(chunks)
        return cls(model_id, dim, np.full(len(chunks), -1, np.int64), np.full(offsets[-1], -1, np.int64), offsets)

    @property
    def complete(self) -> bool:
        return bool(self.done.all())

    @cached_property  # one reader per loaded layer: ``@`` gathers every vector once, not per question
    def passages(self) -> CachedRows:
        """Passage vectors by passage (zeros where not done)."""
        return CachedRows(self.passage_rows, self.cache, self.dim)

    @cached_property
    def sentences(self) -> CachedRows:
        """Sentence vectors, every sentence of every passage in passage order (zeros where not done)."""
        return CachedRows(self.sentence_rows, self.cache, self.dim)

    def rows_for(self, passage: int) -> slice:
        """The rows of ``sentences`` holding passage ``passage``'s sentences."""
        return slice(int(self.offsets[passage]), int(self.offsets[passage + 1]))

    def take(self, rows: list[int]) -> "DeepLayer":
        """The layer for a subset of passages, in the order given (for a rebuilt index reusing rows)."""
        picked, offsets = sentence_rows(self.offsets, rows)
        done_rows = np.where(self.done[rows], self.passage_rows[rows], -1)  # a gone cache's rows: to do again
        return DeepLayer(self.model_id, self.dim, done_rows, self.sentence_rows[picked], offsets)

    def save(self, folder: Path) -> None:
        for name, array in zip(FILES, (self.passage_rows, self.sentence_rows, self.offsets), strict=True):
            np.save(folder / name, array)

    @classmethod
    def load(cls, folder: Path, model_id: str, dim: int, passage_count: int, cache: CachedVectors) -> "DeepLayer":
        passage_rows, rows, offsets = (np.load(folder / name) for name in FILES)
        if passage_rows.shape != (passage_count,) or offsets.shape != (passage_count + 1,) or len(rows) != offsets[-1]:
            raise ValueError(f"the deep layer has {len(passage_rows)} passage and {len(rows)} sentence rows "
                             f"for {passage_count} passages")
        return cls(model_id, dim, passage_rows, rows, offsets, cache)


def concatenate(parts: list[DeepLayer]) -> DeepLayer:
    """Layers of consecutive passage ranges joined into one."""
    return DeepLayer(parts[0].model_id, parts[0].dim, np.concatenate([p.passage_rows for p in parts]),
                     np.concatenate([p.sentence_rows for p in parts]), joined_offsets([p.offsets for p in parts]))


def fill(layer: DeepLayer, chunks: list[Chunk], cached_rows: Callable[[list[str]], np.ndarray],
         rows: list[int]) -> None:
    """Give passages ``rows`` and their sentences deep vectors, in place: their rows in the deep encoder's
    cache, which ``cached_rows`` embeds first where it lacks them."""
    layer.passage_rows[rows] = cached_rows([chunks[i].text for i in rows])
    sentence_texts = [t for i in rows for t in chunks[i].sentence_texts()]
    if sentence_texts:
        spans = [np.arange(layer.offsets[i], layer.offsets[i + 1]) for i in rows]
        layer.sentence_rows[np.concatenate(spans).astype(np.int64)] = cached_rows(sentence_texts)
    layer.done[rows] = True
