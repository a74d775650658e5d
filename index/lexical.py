"""Lexical matching: Arabic-aware tokens (normalised, light-stemmed) and a BM25 index over them."""

import json
import re
from pathlib import Path

import bm25s
import numpy as np

from index.normalise import normalise

# Bump when tokenisation or stemming changes: the BM25 index stores tokens made by these rules.
TOKENISER_VERSION = "1"

_TOKEN = re.compile(r"[^\W_]+")
# Leading clitic clusters: conjunction (و ف), preposition (ب ك ل), article (ال), longest first.
# They glue onto the word in Arabic script, so "والجزائر" and "الجزائر" must meet at "جزائر".
_PREFIXES = sorted(
    {"وال", "فال", "بال", "كال", "لل", "ال", "وبال", "وكال", "فبال", "ولل", "فلل", "و", "ف", "ب", "ل", "ك"},
    key=len, reverse=True,
)
# Common attached endings: pronoun suffixes and plural / dual markers (after ة→ه normalisation).
_SUFFIXES = sorted({"ها", "هم", "هن", "هما", "كم", "كن", "نا", "ات", "ون", "ين", "ان", "يه", "ه", "ي"},
                   key=len, reverse=True)
MIN_STEM = 3
# Function words that carry no topic; dropping them keeps BM25 from rewarding "في" and "the".
_STOPWORDS = set(normalise(" ".join("""
في من على الى إلى عن مع ان أن إن كان كانت التي الذي الذين هذا هذه ذلك تلك هو هي هم ما ماذا من متى
كيف كم اين أين لماذا هل او أو ثم قد لقد لا لم لن بين كل بعد قبل عند حتى اي أي
the a an of in on at to for from by with and or is are was were be been what which who whom whose
when where why how did do does that this these those it its as
""".split())).split())


def light_stem(token: str) -> str:
    """Strip one leading clitic cluster and one ending, keeping at least ``MIN_STEM`` letters."""
    if not _is_arabic_word(token):
        return token
    for prefix in _PREFIXES:
        # A one-letter "prefix" is often the word's own first letter (وزير, بلد): keep 4 letters then.
        keep = MIN_STEM if len(prefix) > 1 else MIN_STEM + 1
        if token.startswith(prefix) and len(token) - len(prefix) >= keep:
            token = token[len(prefix):]
            break
    for suffix in _SUFFIXES:
        if token.endswith(suffix) and len(token) - len(suffix) >= MIN_STEM:
            return token[: -len(suffix)]
    return token


def tokenise(text: str) -> list[str]:
    """Normalised, light-stemmed content tokens of ``text`` (Arabic or not)."""
    tokens = _TOKEN.findall(normalise(text))
    return [light_stem(t) for t in tokens if t not in _STOPWORDS]


def _is_arabic_word(token: str) -> bool:
    return "\u0621" <= token[0] <= "\u064a"


class LexicalIndex:
    """BM25 (Okapi, bm25s) over the stemmed tokens of each passage, kept in passage order."""

    def __init__(self, retriever: bm25s.BM25, vocabulary: set[str]) -> None:
        self._bm25 = retriever
        self.vocabulary = vocabulary

    @classmethod
    def build(cls, token_lists: list[list[str]]) -> "LexicalIndex":
        retriever = bm25s.BM25()
        # bm25s drops an empty document's row; a placeholder token keeps rows aligned with passages.
        retriever.index([tokens or ["\u2400"] for tokens in token_lists], show_progress=False)
        return cls(retriever, {t for tokens in token_lists for t in tokens})

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        """BM25 score of every passage for the query tokens (zeros where nothing matches)."""
        known = [t for t in query_tokens if t in self.vocabulary]
        if not known:
            return np.zeros(self._bm25.scores["num_docs"], dtype=np.float32)
        return self._bm25.get_scores(known).astype(np.float32)

    def coverage(self, query_tokens: list[str]) -> float:
        """Share of the query's tokens that occur anywhere in the corpus (0 for a foreign language)."""
        return sum(t in self.vocabulary for t in query_tokens) / len(query_tokens) if query_tokens else 0.0

    def save(self, folder: Path) -> None:
        self._bm25.save(str(folder))
        (folder / "vocabulary.json").write_text(json.dumps(sorted(self.vocabulary), ensure_ascii=False),
                                                encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> "LexicalIndex":
        retriever = bm25s.BM25.load(str(folder))
        vocabulary = set(json.loads((folder / "vocabulary.json").read_text(encoding="utf-8")))
        return cls(retriever, vocabulary)
