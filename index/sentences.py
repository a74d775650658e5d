"""Sentence splitting that knows Arabic punctuation, as character spans into the original text."""

import re

# A sentence ends after . ! ? ؟ ! … or ؛ (Arabic semicolon joins full clauses in news prose),
# followed by space or the end. A "." between two digits ("8.8") never ends one; neither does a
# single capital letter or Arabic letter with a dot ("د." for Dr.), which is an abbreviation.
_END = re.compile(r"(?<=[.!?؟؛…])[\"'”’»)\]]*(?=\s|$)")
_ABBREVIATION = re.compile(r"(?:^|\s)(?:[A-Z]|[\u0621-\u064a]|Dr|Mr|Mrs|Ms|St|No|vs|etc)\.$")
# The Arabic comma (،) ends a clause, not a sentence: splitting there turns a name between commas
# into a "sentence" (what pysbd does). It only splits a run-on clause longer than this many chars.
LONG_SENTENCE = 400
_COMMA = re.compile(r"(?<=[،,])\s")


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Split ``text[start:end]`` into sentences, returned as ``(start, end)`` spans into ``text``.

    Newlines always end a sentence. Spans exclude surrounding white space.
    """
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    for line in re.finditer(r"[^\n]+", text[start:end]):
        line_start = start + line.start()
        cut = line_start
        for match in _END.finditer(text, line_start, start + line.end()):
            if _ABBREVIATION.search(text, line_start, match.start()) and match.end() < start + line.end():
                continue
            spans.extend(_trimmed(text, cut, match.end()))
            cut = match.end()
        spans.extend(_trimmed(text, cut, start + line.end()))
    return [piece for span in spans for piece in _split_long(text, span)]


def _trimmed(text: str, start: int, end: int) -> list[tuple[int, int]]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return [(start, end)] if end > start else []


def _split_long(text: str, span: tuple[int, int]) -> list[tuple[int, int]]:
    """Cut a run-on sentence at commas so no cited sentence is a whole paragraph."""
    start, end = span
    if end - start <= LONG_SENTENCE:
        return [span]
    pieces, cut = [], start
    for match in _COMMA.finditer(text, start, end):
        if match.start() - cut >= LONG_SENTENCE // 2 and end - match.start() >= 40:
            pieces.extend(_trimmed(text, cut, match.start()))
            cut = match.start()
    pieces.extend(_trimmed(text, cut, end))
    return pieces
