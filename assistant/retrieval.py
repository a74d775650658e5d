"""Finding passages: dense (FAISS) and BM25 scores, fused by how much the question shares with the corpus.

Equal-weight rank fusion wrecks cross-language questions: BM25 ranks noise for an English question over
Arabic articles (XQuAD English hit@1 falls from 0.68 dense-only to 0.20). Here each method's scores are
z-normalised over all passages and BM25 is weighted by the share of the question's words that occur in the
corpus at all, so it counts fully for an Arabic question and fades to nothing for a foreign one.

When the index has a deep layer (a second encoder, index/deep.py), its passage cosine and its best sentence
cosine lead, and the fast encoder's cosine stays in with a smaller weight: the two encoders miss different
questions (XQuAD articles 00-23, English questions: hit@1 0.742 deep alone, 0.786 with both; docs/quality.md).
"""

from concurrent.futures import Future
from typing import Any

import numpy as np

from assistant.deep_scores import DeepScorer
from assistant.question_type import carries_type, expected_type
from assistant.records import Hit
from index.dense import top
from index.embedding import DalilEmbedding
from index.lexical import question_tokens
from index.store import PassageIndex

# BM25's weight beside the dense score when every question word is in the corpus (reference fusion: 0.5).
LEXICAL_WEIGHT = 0.5
# Added (in standard deviations) to passages that hold what a "when" / "how many" question asks for.
TYPE_BOOST = 0.5
# With a deep layer: weights of its passage cosine, of its best sentence cosine (a passage is as good as
# its best sentence for a question one sentence answers), and of the fast encoder's cosine. Tuned on XQuAD
# articles 00-23 only (docs/quality.md).
DEEP_PASSAGE_WEIGHT = 1.0
DEEP_SENTENCE_WEIGHT = 0.8
FAST_WEIGHT_BESIDE_DEEP = 0.3
# The fast encoder's best sentence cosine too: the sentence layer stores the fast sentence vectors, so this
# costs no embedding (XQuAD 00-23 hit@1: English +1.2, Arabic +0.7 points; docs/quality.md).
FAST_SENTENCE_WEIGHT = 0.3


# A question's deep vector, or its embedding still running in a worker thread (Assistant.answer starts it
# first, so the fast encoder, the dense search and BM25 run meanwhile), or None without a deep layer.
DeepVector = np.ndarray | Future | None


def resolved(deep_vector: DeepVector) -> np.ndarray | None:
    """The deep vector, waiting for its embedding if it is still running."""
    return deep_vector.result() if isinstance(deep_vector, Future) else deep_vector


def zscore(values: np.ndarray) -> np.ndarray:
    """Scores on one scale: mean 0, standard deviation 1 (all zeros when they are all equal)."""
    spread = float(values.std())
    return (values - values.mean()) / spread if spread > 1e-9 else np.zeros_like(values)


def zscore_where(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``values`` z-normalised by the mean and spread of the entries where ``mask`` holds."""
    chosen = values[mask]
    spread = float(chosen.std())
    return (values - chosen.mean()) / spread if spread > 1e-9 else np.zeros_like(values)


def combine(fast: np.ndarray, parts: list[np.ndarray], done: np.ndarray) -> np.ndarray:
    """The encoders' share of the fused score with a deep layer, from z-scores: ``parts`` are the deep
    passage cosine, the deep best-sentence cosine and the fast best-sentence cosine; passages the deep
    layer has not reached keep the fast score in each part's place."""
    weights = (DEEP_PASSAGE_WEIGHT, DEEP_SENTENCE_WEIGHT, FAST_SENTENCE_WEIGHT)
    deep_part = sum(weight * np.where(done, part, fast) for weight, part in zip(weights, parts, strict=True))
    return deep_part + FAST_WEIGHT_BESIDE_DEEP * fast


def best_per_passage(sentence_scores: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The highest score among each passage's sentences (``offsets`` from index/deep.py)."""
    counts = np.diff(offsets)
    best = np.full(len(counts), -1.0, dtype=np.float32)
    has = counts > 0
    if sentence_scores.size:
        best[has] = np.maximum.reduceat(sentence_scores, offsets[:-1][has])
    return best


class HybridRetriever:
    """Dense + BM25 retrieval over a ``PassageIndex``; ``as_llama()`` gives it as a llama-index retriever."""

    def __init__(self, index: PassageIndex, embedder: DalilEmbedding, top_k: int = 5) -> None:
        self.index = index
        self.embedder = embedder
        self.top_k = top_k
        self._carries: dict[str, np.ndarray] = {}  # answer kind -> per passage: 1 holds one, 0 not, -1 not known
        self._deep_scorer: DeepScorer | None = None  # built on the first question that needs it
        self._fast_sentences: np.ndarray | None = None  # see fast_sentences()

    def search(self, question: str, k: int | None = None, query_vector: np.ndarray | None = None,
               deep_vector: DeepVector = None) -> list[Hit]:
        """The ``k`` best passages for ``question``, best first.

        ``deep_vector`` is the question embedded by the deep layer's encoder (or that embedding, running:
        it is waited for only once the fast scores are in); without it (or without a deep layer) only the
        fast encoder and BM25 are used.
        """
        k = k or self.top_k
        if query_vector is None:
            query_vector = self.embedder.embed_query(question)
        if self.index.approximate or self._milvus_finds_all(deep_vector):
            from assistant.candidates import candidate_search  # a graph index or Milvus: top passages only

            return candidate_search(self, question, k, query_vector, deep_vector)
        dense = self.index.dense_scores(query_vector)
        tokens = question_tokens(question)
        weight = LEXICAL_WEIGHT * self.index.lexical.coverage(tokens)
        lexical = self.index.lexical.scores(tokens) if weight > 0 else np.zeros_like(dense)
        lexical_part = weight * zscore(lexical)  # before waiting for the deep vector
        fused = self._dense_part(dense, query_vector, resolved(deep_vector)) + lexical_part
        kind = expected_type(question)
        if kind:
            fused += TYPE_BOOST * self.passages_carrying(kind, np.arange(len(fused)))
        order, _ = top(np.arange(len(fused)), fused, k)
        return [Hit(self.index.chunks[i], float(fused[i]), float(dense[i]), float(lexical[i]), int(i))
                for i in order]

    def _milvus_finds_all(self, deep_vector: DeepVector) -> bool:
        """Milvus holds what this question is searched with: the fast vectors, and the deep layer's when used."""
        if self.index.dense_store is None:
            return False
        return deep_vector is None or self.index.deep_store is not None or self.deep_scorer(deep_vector) is None

    def _dense_part(self, dense: np.ndarray, query_vector: np.ndarray, deep_vector: np.ndarray | None) -> np.ndarray:
        """The encoders' share of the fused score: the fast one alone, or the deep layer leading it."""
        fast = zscore(dense)
        deep = self.index.deep
        if deep is None or deep_vector is None or not deep.done.any():
            return fast
        done = deep.done
        scores = (deep.passages @ deep_vector, best_per_passage(deep.sentences @ deep_vector, deep.offsets),
                  best_per_passage(self.fast_sentences() @ query_vector, deep.offsets))
        return combine(fast, [zscore_where(part, done) for part in scores], done)

    def fast_sentences(self) -> np.ndarray:
        """Every sentence's fast vector as one matrix (made once per loaded index, from the sentence layer;
        this all-passage path is taken up to FLAT_MAX passages only: at most ~60k sentences, ~120 MB)."""
        if self._fast_sentences is None:
            self._fast_sentences = self.index.sentences.matrix(self.embedder.dim)[0]
        return self._fast_sentences

    def deep_scorer(self, deep_vector: DeepVector) -> DeepScorer | None:
        """The deep layer prepared for candidate scoring, when the question has a deep vector to use."""
        deep = self.index.deep
        if deep is None or deep_vector is None or not deep.done.any():
            return None
        if self._deep_scorer is None:
            self._deep_scorer = DeepScorer(deep, self.index.sentences, self.embedder.dim)
        return self._deep_scorer

    def passages_carrying(self, kind: str, rows: np.ndarray) -> np.ndarray:
        """1 for each of passages ``rows`` holding what a ``kind`` question asks for, else 0 (cached by row:
        a big archive parses only the passages questions reach)."""
        known = self._carries.setdefault(kind, np.full(len(self.index.chunks), -1, dtype=np.int8))
        for row in rows[known[rows] < 0].tolist():
            known[row] = carries_type(kind, self.index.chunks[row].text)
        return known[rows].astype(np.float32)

    def as_llama(self) -> Any:
        """This retriever as a llama-index ``BaseRetriever`` (llama-index is imported only then)."""
        from assistant.llama_retriever import LlamaHybridRetriever

        return LlamaHybridRetriever(self)
