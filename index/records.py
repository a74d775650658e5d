"""The records the index is made of: an Article and the Chunks (passages) cut from it."""

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # llama-index is imported only by the node conversions, not to answer a question
    from llama_index.core.schema import TextNode


@dataclass(frozen=True)
class Article:
    """One news article as loaded: ``text`` is the original text shown to people."""

    id: str
    source: str  # file name relative to the folder it was indexed from, e.g. "world/001.txt"
    title: str
    text: str
    metadata: dict = field(default_factory=dict)  # date, url, source ... when the file has them


@dataclass(frozen=True)
class Chunk:
    """A passage of an article, with its sentences as spans so a citation can point at one.

    ``start``/``end`` locate the passage in the article's text; each ``sentences`` span locates a
    sentence inside ``text`` (the passage), so ``text[s:e]`` is exactly what the reader sees.
    """

    id: str
    article_id: str
    source: str
    title: str
    text: str
    start: int
    end: int
    sentences: tuple[tuple[int, int], ...]
    metadata: dict = field(default_factory=dict)

    def sentence_texts(self) -> list[str]:
        return [self.text[s:e] for s, e in self.sentences]

    def to_dict(self) -> dict:
        # By hand: dataclasses.asdict deep-copies every span and took 60% of writing a 7,000-passage index.
        return {"id": self.id, "article_id": self.article_id, "source": self.source, "title": self.title,
                "text": self.text, "start": self.start, "end": self.end,
                "sentences": [list(span) for span in self.sentences], "metadata": dict(self.metadata)}

    @classmethod
    def from_dict(cls, data: dict) -> "Chunk":
        data = dict(data)
        data["sentences"] = tuple(tuple(span) for span in data["sentences"])
        return cls(**data)

    def to_node(self) -> "TextNode":
        """The same passage as a llama-index node, for retrievers and any llama-index consumer."""
        from llama_index.core.schema import TextNode

        return TextNode(
            id_=self.id,
            text=self.text,
            metadata={
                "article_id": self.article_id,
                "source": self.source,
                "title": self.title,
                "start": self.start,
                "end": self.end,
                "sentences": [list(span) for span in self.sentences],
                **self.metadata,
            },
            # Only the passage text is embedded or shown to an LLM; the rest is bookkeeping.
            excluded_embed_metadata_keys=["article_id", "start", "end", "sentences"],
            excluded_llm_metadata_keys=["article_id", "start", "end", "sentences"],
        )

    @classmethod
    def from_node(cls, node: "TextNode") -> "Chunk":
        meta = dict(node.metadata)
        core = {key: meta.pop(key) for key in ("article_id", "source", "title", "start", "end", "sentences")}
        core["sentences"] = tuple(tuple(span) for span in core["sentences"])
        return cls(id=node.id_, text=node.text, metadata=meta, **core)
