"""Cutting articles into paragraph-aware passages that keep each sentence's character span."""

import hashlib
import re
from collections.abc import Iterable, Sequence
from typing import Any

from llama_index.core.node_parser import NodeParser
from llama_index.core.schema import BaseNode, Document

from index.records import Article, Chunk
from index.sentences import split_sentences

# Passages up to this size stay whole; longer paragraphs are cut between sentences. The XQuAD and
# news paragraphs this was chosen on average 330-680 characters, so most paragraphs stay whole.
DEFAULT_MAX_CHARS = 900
# A paragraph shorter than this (a title line, "back to top") is joined to the next one, so that it
# is found with the text it introduces instead of crowding the top results on its own.
DEFAULT_MIN_CHARS = 120


def chunk_article(article: Article, max_chars: int = DEFAULT_MAX_CHARS,
                  min_chars: int = DEFAULT_MIN_CHARS) -> list[Chunk]:
    """Split an article into passages: paragraphs (blank-line separated), packed by sentence."""
    groups: list[list[tuple[int, int]]] = []
    pending: list[tuple[int, int]] = []
    for para in _paragraphs(article.text):
        sentences = pending + split_sentences(article.text, *para)
        pending = []
        if sentences and sentences[-1][1] - sentences[0][0] < min_chars:
            pending = sentences
            continue
        groups.extend(_pack(sentences, max_chars))
    if pending:  # a short last paragraph joins the passage before it, or stands alone
        if groups and pending[-1][1] - groups[-1][0][0] <= max_chars:
            groups[-1] = groups[-1] + pending
        else:
            groups.append(pending)
    return [_make_chunk(article, i, spans) for i, spans in enumerate(groups)]


def _paragraphs(text: str) -> Iterable[tuple[int, int]]:
    start = 0
    for match in re.finditer(r"\n\s*\n", text):
        yield start, match.start()
        start = match.end()
    yield start, len(text)


def _pack(sentences: Sequence[tuple[int, int]], max_chars: int) -> list[list[tuple[int, int]]]:
    groups: list[list[tuple[int, int]]] = []
    for span in sentences:
        if groups and span[1] - groups[-1][0][0] <= max_chars:
            groups[-1].append(span)
        else:
            groups.append([span])
    return groups


def _make_chunk(article: Article, number: int, spans: list[tuple[int, int]]) -> Chunk:
    start, end = spans[0][0], spans[-1][1]
    text = article.text[start:end]
    digest = hashlib.sha1(f"{article.id}:{number}:{text}".encode()).hexdigest()[:16]
    return Chunk(
        id=digest,
        article_id=article.id,
        source=article.source,
        title=article.title,
        text=text,
        start=start,
        end=end,
        sentences=tuple((s - start, e - start) for s, e in spans),
        metadata=dict(article.metadata),
    )


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
