"""Dalil's hybrid retriever as a llama-index ``BaseRetriever`` (imported only by llama-index users)."""

from typing import Any

from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle


class LlamaHybridRetriever(BaseRetriever):
    """``HybridRetriever.search`` behind llama-index's retriever interface: nodes are Dalil's passages."""

    def __init__(self, retriever: Any) -> None:
        super().__init__()
        self.inner = retriever

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = self.inner.search(query_bundle.query_str)
        return [NodeWithScore(node=hit.chunk.to_node(), score=hit.score) for hit in hits]
