"""Retrieval over candidate passages: when the dense search returns only its top passages (a graph index
above FLAT_MAX passages, Milvus), fused exactly as retrieval.py fuses every passage.

The candidates are the dense search's top ``CANDIDATES``, BM25's, and with a deep layer the deep layer's
(assistant/deep_scores.py). Each is scored with the all-passage statistics: BM25 is z-scored over every
passage (its scores are cheap), and the dense z-score uses the mean and spread of the question's cosine
over every passage, which follow from the passages' mean vector and covariance (q.mu and sqrt(q'Cq),
index/dense/moments.py) without scoring them. With Milvus the deep layer's candidates come from its own
collection there, and its cosine's mean and spread from the done passages' moments; an index whose deep
layer has no collection in Milvus (built before there was one) is scored over every passage (retrieval.py).
"""

import numpy as np

from assistant.question_type import expected_type
from assistant.records import Hit
from index.dense import top
from index.dense.moments import Moments
from index.lexical import question_tokens

CANDIDATES = 100  # from each side; the fused top 10 came from inside 100 + 100 on XQuAD
SAMPLE = 20_000  # rows the moments are estimated from when the index stores none (Milvus), above this many


def candidate_search(retriever, question: str, k: int, query_vector: np.ndarray, deep_vector=None) -> list[Hit]:
    """The ``k`` best passages, fused over the candidates only (see module docstring). ``deep_vector`` may
    still be embedding (retrieval.DeepVector): BM25 and the dense search run before it is waited for."""
    from assistant.retrieval import LEXICAL_WEIGHT, TYPE_BOOST, combine, resolved, zscore

    index = retriever.index
    tokens = question_tokens(question)
    weight = LEXICAL_WEIGHT * index.lexical.coverage(tokens)
    lexical = index.lexical.scores(tokens) if weight > 0 else np.zeros(len(index.chunks), dtype=np.float32)
    search = index.dense_store.search if index.dense_store is not None else index.dense_search
    found = [search(query_vector, CANDIDATES)[0]]
    if weight > 0:
        found.append(top(np.arange(len(lexical)), lexical, CANDIDATES)[0])
    lexical_z = zscore(lexical)
    mean, spread = _moments(retriever).mean_and_spread(query_vector)
    deep_vector = resolved(deep_vector)
    scorer = retriever.deep_scorer(deep_vector)
    if scorer is not None:
        if index.deep_store is not None:  # Milvus's deep collection finds the deep layer's candidates
            deep_rows = index.deep_store.search(deep_vector, CANDIDATES)[0]
            deep_mean, deep_spread = scorer.mean_and_spread(deep_vector)
        else:
            deep_rows, deep_mean, deep_spread = scorer.top(deep_vector, CANDIDATES)
        found.append(deep_rows)
    candidates = np.unique(np.concatenate(found)).astype(np.int64)
    # The vectors are local (the generation keeps them for incremental builds): exact cosines.
    dense = index.vectors[candidates] @ query_vector.astype(np.float32)
    fast = (dense - mean) / spread if spread > 1e-9 else np.zeros_like(dense)
    if scorer is not None:
        fast = combine(fast, scorer.parts(candidates, deep_vector, query_vector, deep_mean, deep_spread),
                       index.deep.done[candidates])
    fused = fast + weight * lexical_z[candidates]
    kind = expected_type(question)
    if kind:
        fused += TYPE_BOOST * retriever.passages_carrying(kind, candidates)
    order, _ = top(np.arange(len(candidates)), fused.astype(np.float32), k)
    return [Hit(index.chunks[candidates[j]], float(fused[j]), float(dense[j]), float(lexical[candidates[j]]),
                int(candidates[j])) for j in order]


def _moments(retriever) -> Moments:
    """The stored moments of the passages' vectors; for an index without (Milvus), from a sample, once."""
    if retriever.index.moments is not None:
        return retriever.index.moments
    if not hasattr(retriever, "_sampled_moments"):
        vectors = retriever.index.vectors
        if len(vectors) > SAMPLE:
            vectors = vectors[np.random.default_rng(6).choice(len(vectors), SAMPLE, replace=False)]
        retriever._sampled_moments = Moments.of(vectors)
    return retriever._sampled_moments
