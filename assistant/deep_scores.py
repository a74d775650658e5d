"""The deep layer's part of a question's scores for candidate passages, z-scored over every done passage.

Scoring every passage and every sentence with the deep encoder reads ~600 MB at 20,000 articles (101k
passage and ~285k sentence vectors) per question. Here the passage cosines are computed over the done
passages only (a compact copy, made once per loaded index), which gives their exact mean and spread and
the deep layer's own top passages as candidates; the best-sentence cosines (deep and fast encoder) are
computed for the candidates only, and their mean and spread over all done passages are estimated from a
fixed sample of them.
"""

import numpy as np

from index.deep import DeepLayer
from index.dense.moments import Moments
from index.sentence_layer import SentenceLayer, sentence_rows

SENTENCE_SAMPLE = 2_000  # done passages whose best-sentence cosine estimates its mean and spread


class DeepScorer:
    """One loaded deep layer, prepared for candidate scoring (built on the first question)."""

    def __init__(self, deep: DeepLayer, fast: SentenceLayer, fast_dim: int) -> None:
        self.deep, self.fast, self.fast_dim = deep, fast, fast_dim
        self.done_rows = np.flatnonzero(deep.done)
        self.done_passages = np.ascontiguousarray(deep.passages[self.done_rows])
        sample = self.done_rows
        if len(sample) > SENTENCE_SAMPLE:
            sample = np.sort(np.random.default_rng(6).choice(sample, SENTENCE_SAMPLE, replace=False))
        self.sample = self.sentences_of(sample)
        self._moments: Moments | None = None  # see mean_and_spread

    def sentences_of(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The deep and the fast vectors of passages ``rows``' sentences (contiguous), and each passage's
        first row in them."""
        picked, offsets = sentence_rows(self.deep.offsets, rows)
        return np.asarray(self.deep.sentences[picked]), self.fast.matrix(self.fast_dim, picked)[0], offsets

    def mean_and_spread(self, deep_vector: np.ndarray) -> tuple[float, float]:
        """The mean and spread of the question's deep cosine over all done passages, from their moments
        (when another engine finds the deep candidates: no cosine is computed here)."""
        if self._moments is None:
            self._moments = Moments.of(self.done_passages)
        return self._moments.mean_and_spread(deep_vector)

    def top(self, deep_vector: np.ndarray, n: int) -> tuple[np.ndarray, float, float]:
        """The ``n`` done passages nearest the question, and the mean and spread of the cosine over all done."""
        cosines = self.done_passages @ deep_vector
        keep = np.argpartition(-cosines, min(n, len(cosines)) - 1)[:n] if len(cosines) > n else np.arange(len(cosines))
        return self.done_rows[keep], float(cosines.mean()), float(cosines.std())

    def parts(self, rows: np.ndarray, deep_vector: np.ndarray, query_vector: np.ndarray, mean: float,
              spread: float) -> list[np.ndarray]:
        """z-scores of passages ``rows``' deep cosine, deep best-sentence cosine and fast best-sentence
        cosine (retrieval.combine's parts; meaningless where not done)."""
        passage = (self.deep.passages[rows] @ deep_vector - mean) / _nonzero(spread)
        deep_sentences, fast_sentences, offsets = self.sentences_of(rows)
        sample_deep, sample_fast, sample_offsets = self.sample
        return [passage, _best_z(deep_sentences @ deep_vector, offsets, sample_deep @ deep_vector, sample_offsets),
                _best_z(fast_sentences @ query_vector, offsets, sample_fast @ query_vector, sample_offsets)]


def _best_z(scores: np.ndarray, offsets: np.ndarray, sample_scores: np.ndarray,
            sample_offsets: np.ndarray) -> np.ndarray:
    """Each passage's best sentence score, z-scored by the mean and spread of the sample passages' best."""
    from assistant.retrieval import best_per_passage

    sample = best_per_passage(sample_scores, sample_offsets)
    return (best_per_passage(scores, offsets) - sample.mean()) / _nonzero(float(sample.std()))


def _nonzero(spread: float) -> float:
    return spread if spread > 1e-9 else float("inf")  # all equal: every z-score 0, as retrieval.zscore gives
