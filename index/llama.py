"""Dalil's index pieces as llama-index components (imported only by llama-index users, never to answer)."""

from collections.abc import Sequence
from typing import Any

from llama_index.core.embeddings import BaseEmbedding
from llama_index.core.node_parser import NodeParser
from llama_index.core.schema import BaseNode, Document
from pydantic import PrivateAttr

from index.chunking import DEFAULT_MAX_CHARS, DEFAULT_MIN_CHARS, chunk_article
from index.embedding import DalilEmbedding
from index.records import Article


class LlamaEmbedding(BaseEmbedding):
    """A Dalil embedder behind llama-index's ``BaseEmbedding`` interface (same vectors)."""

    dim: int = 0
    _inner: Any = PrivateAttr()

    @classmethod
    def wrapping(cls, embedder: DalilEmbedding) -> "LlamaEmbedding":
        wrapped = cls(model_name=embedder.model_name, dim=embedder.dim,
                      embed_batch_size=embedder.embed_batch_size)
        wrapped._inner = embedder
        return wrapped

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._inner.embed_query(query).tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._inner.embed_passages([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._inner.embed_passages(texts).tolist()


class ArabicPassageParser(NodeParser):
    """The same chunking as a llama-index node parser, for pipelines built on llama-index.

    llama-index's ``SentenceSplitter`` does not split on ``؟ ، ؛`` and counts OpenAI tokens;
    this parser splits Arabic correctly and keeps sentence spans in each node's metadata.
    """

    max_chars: int = DEFAULT_MAX_CHARS
    min_chars: int = DEFAULT_MIN_CHARS

    def _parse_nodes(self, nodes: Sequence[BaseNode], show_progress: bool = False,
                     **kwargs: Any) -> list[BaseNode]:
        out: list[BaseNode] = []
        for doc in nodes:
            meta = dict(doc.metadata)
            article = Article(
                id=doc.id_,
                source=str(meta.pop("source", meta.pop("file_name", ""))),
                title=str(meta.pop("title", "")),
                text=doc.get_content(),
                metadata=meta,
            )
            out.extend(chunk.to_node() for chunk in chunk_article(article, self.max_chars, self.min_chars))
        return out


def article_document(article: Article) -> Document:
    """An article as a llama-index ``Document`` (what ``ArabicPassageParser`` takes)."""
    return Document(id_=article.id, text=article.text,
                    metadata={"source": article.source, "title": article.title, **article.metadata})
