"""Cutting articles into paragraph-aware passages that keep each sentence's character span."""

import hashlib
import re
from collections.abc import Iterable, Sequence

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


def __getattr__(name: str) -> object:
    """``ArabicPassageParser`` and ``article_document`` live in index/llama.py, imported on first use,
    so that answering a question never pays for importing llama-index."""
    if name in ("ArabicPassageParser", "article_document"):
        from index import llama

        return getattr(llama, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
