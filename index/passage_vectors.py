"""Passage vectors made from their sentences' vectors, so a build reads the corpus with the fast encoder once.

The answer step needs the fast encoder's vector of every sentence (index/sentence_layer.py) and retrieval
needs one per passage. Embedding both read the text twice: at 20,000 articles the 101,133 passages, then
their ~169k sentences, about 45% of the build. For USE, the mean of a passage's sentence vectors, each
weighted by its length in characters, ranks passages as well as the vector of the whole passage (XQuAD,
docs/quality.md: hit@1 and answers within about a point either way, by language and split), so a build with
USE embeds each distinct sentence once and derives the passage vectors from those. An embedder says whether
it does this (``DalilEmbedding.passages_from_sentences``): for e5 the mean ranked 1-2 points lower for English
questions, so e5 and sentence-transformers models embed whole passages as before.
"""

from collections.abc import Sequence

import numpy as np

from index.embed_cache import CachedVectors, EmbeddingCache, Progress, embed_uncached, text_key
from index.embedding import DalilEmbedding
from index.records import Chunk
from index.sentence_layer import sentence_offsets

BLOCK = 2048  # passages whose sentence vectors are read back from the cache at a time (~9 MB with USE)


def from_sentences(chunks: Sequence[Chunk], embedder: DalilEmbedding, cache: EmbeddingCache,
                   progress: Progress | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """Unit vectors of ``chunks`` made from their sentences' vectors; every sentence's cache row, in passage
    order (the sentence layer's rows); and how many distinct sentences were embedded (the rest were cached)."""
    texts = [t for c in chunks for t in c.sentence_texts()]
    embedded = embed_uncached(texts, embedder, cache, progress)
    rows = cache.rows_of([text_key(t) for t in texts])
    offsets = sentence_offsets(list(chunks))
    vectors = np.zeros((len(chunks), embedder.dim), np.float32)
    for start in range(0, len(chunks), BLOCK):
        stop = min(start + BLOCK, len(chunks))
        # Mapped for one block and dropped: the pages read stay out of this process's memory afterwards.
        block = CachedVectors(cache.folder, embedder.dim).get(rows[offsets[start]:offsets[stop]])
        vectors[start:stop] = mean_of_sentences(block, chunks[start:stop])
    return vectors, rows, embedded


def mean_of_sentences(sentence_vectors: np.ndarray, chunks: Sequence[Chunk]) -> np.ndarray:
    """Unit vectors of ``chunks`` from the vectors of their sentences (in order, every chunk's in turn), each
    sentence weighted by its length in characters. Chunking packs sentences, so a chunk always has one."""
    lengths = np.array([end - start for c in chunks for start, end in c.sentences], np.float32)
    firsts = sentence_offsets(list(chunks))[:-1]
    sums = np.add.reduceat(sentence_vectors * lengths[:, None], firsts, axis=0) if len(firsts) else sentence_vectors
    return sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
