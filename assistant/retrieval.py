"""Finding passages: dense (FAISS) and BM25 scores, fused by how much the question shares with the corpus.

Equal-weight rank fusion wrecks cross-language questions: BM25 ranks noise for an English question over
Arabic articles (XQuAD English hit@1 falls from 0.68 dense-only to 0.20). Here each method's scores are
z-normalised over all passages and BM25 is weighted by the share of the question's words that occur in the
corpus at all, so it counts fully for an Arabic question and fades to nothing for a foreign one.
"""

import numpy as np
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle

from assistant.question_type import carries_type, expected_type
from assistant.records import Hit
from index.embedding import DalilEmbedding
from index.lexical import tokenise
from index.store import PassageIndex

# BM25's weight beside the dense score when every question word is in the corpus (reference fusion: 0.5).
LEXICAL_WEIGHT = 0.5
# Added (in standard deviations) to passages that hold what a "when" / "how many" question asks for.
TYPE_BOOST = 0.5


def zscore(values: np.ndarray) -> np.ndarray:
    """Scores on one scale: mean 0, standard deviation 1 (all zeros when they are all equal)."""
    spread = float(values.std())
    return (values - values.mean()) / spread if spread > 1e-9 else np.zeros_like(values)


class HybridRetriever(BaseRetriever):
    """Dense + BM25 retrieval over a ``PassageIndex``, as a llama-index retriever."""

    def __init__(self, index: PassageIndex, embedder: DalilEmbedding, top_k: int = 5) -> None:
        super().__init__()
        self.index = index
        self.embedder = embedder
        self.top_k = top_k
        self._carries: dict[str, np.ndarray] = {}  # answer kind -> which passages hold one (computed once)

    def search(self, question: str, k: int | None = None, query_vector: np.ndarray | None = None) -> list[Hit]:
        """The ``k`` best passages for ``question``, best first."""
        k = k or self.top_k
        if query_vector is None:
            query_vector = self.embedder.embed_query(question)
        dense = self.index.dense_scores(query_vector)
        tokens = tokenise(question)
        weight = LEXICAL_WEIGHT * self.index.lexical.coverage(tokens)
        lexical = self.index.lexical.scores(tokens) if weight > 0 else np.zeros_like(dense)
        fused = zscore(dense) + weight * zscore(lexical)
        kind = expected_type(question)
        if kind:
            fused += TYPE_BOOST * self._passages_carrying(kind)
        order = np.argsort(-fused, kind="stable")[:k]
        return [Hit(self.index.chunks[i], float(fused[i]), float(dense[i]), float(lexical[i])) for i in order]

    def _passages_carrying(self, kind: str) -> np.ndarray:
        if kind not in self._carries:
            self._carries[kind] = np.array([carries_type(kind, c.text) for c in self.index.chunks], dtype=np.float32)
        return self._carries[kind]

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = self.search(query_bundle.query_str)
        return [NodeWithScore(node=hit.chunk.to_node(), score=hit.score) for hit in hits]
