"""The deep layer: a second, slower encoder's vectors for every passage and every sentence.

multilingual-e5-small finds the right passage first far more often than USE, across languages too, but
embeds 14-20x slower (../shared/PITFALLS.md). So an index is usable as soon as the fast layer (USE + BM25)
is written, and the deep layer is filled in behind it: rows are embedded in batches and published as a
new generation about once a minute (index/build.py), so answers improve as it lands. ``done[i]`` says
whether passage ``i`` and its sentences have deep vectors yet; a row that is not done is zeros and
retrieval falls back to the fast layer's scores for it.

Files in a generation::

    deep-passages.npy    (passages, dim) float32, L2-normalised, zeros where not done
    deep-sentences.npy   (sentences, dim) float32: every sentence of every passage, in passage order
    deep-done.npy        (passages,) bool
    deep-offsets.npy     (passages + 1,) int64: row of each passage's first sentence (stored, so loading
                         does not parse every passage to count its sentences)
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.records import Chunk
from index.sentence_layer import joined_offsets, sentence_offsets, sentence_rows

FILES = ("deep-passages.npy", "deep-sentences.npy", "deep-done.npy", "deep-offsets.npy")


@dataclass
class DeepLayer:
    """The second encoder's vectors, aligned with an index's passages and their sentences."""

    model_id: str
    passages: np.ndarray  # (n, dim)
    sentences: np.ndarray  # (sum of sentence counts, dim)
    offsets: np.ndarray  # (n + 1,) row of passage i's first sentence; its last is offsets[i + 1] - 1
    done: np.ndarray  # (n,) bool

    @classmethod
    def empty(cls, model_id: str, dim: int, chunks: list[Chunk]) -> "DeepLayer":
        offsets = sentence_offsets(chunks)
        return cls(model_id, np.zeros((len(chunks), dim), np.float32), np.zeros((offsets[-1], dim), np.float32),
                   offsets, np.zeros(len(chunks), bool))

    @property
    def complete(self) -> bool:
        return bool(self.done.all())

    def rows_for(self, passage: int) -> slice:
        """The rows of ``sentences`` holding passage ``passage``'s sentences."""
        return slice(int(self.offsets[passage]), int(self.offsets[passage + 1]))

    def take(self, rows: list[int]) -> "DeepLayer":
        """The layer for a subset of passages, in the order given (for a rebuilt index reusing rows)."""
        picked, offsets = sentence_rows(self.offsets, rows)
        return DeepLayer(self.model_id, self.passages[rows], self.sentences[picked], offsets, self.done[rows])

    @property
    def dim(self) -> int:
        return int(self.passages.shape[1])

    def save(self, folder: Path) -> None:
        arrays = (self.passages, self.sentences, self.done, self.offsets)
        for name, array in zip(FILES, arrays, strict=True):
            np.save(folder / name, array)

    @classmethod
    def load(cls, folder: Path, model_id: str, passage_count: int) -> "DeepLayer":
        # Copy-on-write maps: a big archive's sentence vectors are read as questions need them, and a
        # resumed fill can still write rows (into memory, saved as a new generation).
        passages, sentences, done, offsets = (np.load(folder / name, mmap_mode="c") for name in FILES)
        if (passages.shape[0] != passage_count or done.shape != (passage_count,)
                or offsets.shape != (passage_count + 1,) or sentences.shape[0] != offsets[-1]):
            raise ValueError(f"the deep layer has {passages.shape[0]} passage and {sentences.shape[0]} sentence "
                             f"rows for {passage_count} passages")
        return cls(model_id, passages, sentences, np.asarray(offsets), np.array(done))


def concatenate(parts: list[DeepLayer]) -> DeepLayer:
    """Layers of consecutive passage ranges joined into one."""
    return DeepLayer(parts[0].model_id, np.vstack([p.passages for p in parts]),
                     np.vstack([p.sentences for p in parts]), joined_offsets([p.offsets for p in parts]),
                     np.concatenate([p.done for p in parts]))


def fill(layer: DeepLayer, chunks: list[Chunk], embed: Callable[[list[str]], np.ndarray], rows: list[int]) -> None:
    """Give passages ``rows`` and their sentences deep vectors, in place; ``embed`` is the deep encoder's
    passage embedding (through the embedding cache, in a build)."""
    texts = [chunks[i].text for i in rows]
    sentence_texts = [t for i in rows for t in chunks[i].sentence_texts()]
    passage_vectors = embed(texts)
    sentence_vectors = embed(sentence_texts) if sentence_texts else None
    taken = 0
    for row, vector in zip(rows, passage_vectors, strict=True):
        span = layer.rows_for(row)
        count = span.stop - span.start
        layer.passages[row] = vector
        if count:
            layer.sentences[span] = sentence_vectors[taken:taken + count]
        taken += count
        layer.done[row] = True
