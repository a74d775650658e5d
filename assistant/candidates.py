"""Retrieval when the dense store returns only its top passages (Milvus, approximate indexes).

Only for the fast layer: a question that has a deep-layer vector (index/deep.py) is scored locally over
every passage, without Milvus, since the deep layer's vectors are not in Milvus yet.

The candidates are the dense store's top ``CANDIDATES`` and BM25's; each is scored exactly as the
all-passage fusion in retrieval.py scores it: BM25 is z-scored over every passage (its scores are cheap
to compute), and the dense z-score uses the mean and spread of the query's cosine over every passage,
which follow from the passages' mean vector and covariance (q.mu and sqrt(q'Cq)) without scoring them.
"""

import numpy as np

from assistant.question_type import expected_type
from assistant.records import Hit
from index.lexical import tokenise

CANDIDATES = 100  # from each side; the fused top 10 came from inside 100 + 100 on XQuAD
SAMPLE = 20_000  # rows the mean and covariance are estimated from, above this many passages


def candidate_search(retriever, question: str, k: int, query_vector: np.ndarray) -> list[Hit]:
    """The ``k`` best passages, fused over the candidates only (see module docstring)."""
    from assistant.retrieval import LEXICAL_WEIGHT, TYPE_BOOST, zscore

    index = retriever.index
    tokens = tokenise(question)
    weight = LEXICAL_WEIGHT * index.lexical.coverage(tokens)
    lexical = index.lexical.scores(tokens) if weight > 0 else np.zeros(len(index.chunks), dtype=np.float32)
    rows, _ = index.dense_store.search(query_vector, CANDIDATES)
    lexical_top = np.argpartition(-lexical, min(CANDIDATES, len(lexical) - 1))[:CANDIDATES] if weight > 0 else []
    candidates = np.union1d(rows, lexical_top).astype(np.int64)
    # The vectors are local (the generation keeps them for incremental builds): exact cosines.
    dense = index.vectors[candidates] @ query_vector.astype(np.float32)
    mean, spread = _moments(retriever, query_vector)
    fused = (dense - mean) / spread + weight * zscore(lexical)[candidates]
    kind = expected_type(question)
    if kind:
        fused += TYPE_BOOST * retriever._passages_carrying(kind)[candidates]
    order = np.argsort(-fused, kind="stable")[:k]
    return [Hit(index.chunks[candidates[j]], float(fused[j]), float(dense[j]), float(lexical[candidates[j]]),
                int(candidates[j])) for j in order]


def _moments(retriever, query_vector: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation of the query's cosine over all passages, from cached moments."""
    if not hasattr(retriever, "_dense_moments"):
        vectors = retriever.index.vectors
        if len(vectors) > SAMPLE:
            vectors = vectors[np.random.default_rng(6).choice(len(vectors), SAMPLE, replace=False)]
        vectors = vectors.astype(np.float64)
        retriever._dense_moments = (vectors.mean(axis=0), np.cov(vectors, rowvar=False, bias=True))
    mu, cov = retriever._dense_moments
    q = query_vector.astype(np.float64)
    return float(q @ mu), max(float(np.sqrt(max(q @ cov @ q, 0.0))), 1e-9)
