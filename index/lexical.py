"""Lexical matching: Arabic-aware tokens (normalised, light-stemmed) and a BM25 index over them."""

import json
import re
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Any

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


@lru_cache(maxsize=1 << 18)  # a corpus repeats its words: stem each once (re-indexing ran 5x faster)
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
    """BM25 over the stemmed tokens of each passage, kept in passage order.

    The scores are bm25s's Okapi "lucene" variant (k1 1.5, b 0.75), but computed at query time from stored
    term frequencies instead of precomputed per passage: adding or removing passages then re-uses every
    other row as it is, where a precomputed index must be rebuilt whole (its idf and average length change).
    """

    K1, B = 1.5, 0.75

    def __init__(self, terms: dict[str, int], frequencies: tuple[np.ndarray, np.ndarray, np.ndarray],
                 lengths: np.ndarray) -> None:
        self.vocabulary = terms  # term -> column
        # Passages x terms raw counts, compressed by column (indptr, indices, data): the arrays of a scipy
        # CSC matrix, kept bare so that answering never imports scipy (~0.25 s at start-up).
        self._tf = frequencies
        self._lengths = lengths  # tokens per passage
        self._average = float(lengths.mean()) if len(lengths) else 1.0

    @classmethod
    def build(cls, token_lists: list[list[str]]) -> "LexicalIndex":
        return cls.assemble(None, np.full(len(token_lists), -1), token_lists)

    @classmethod
    def assemble(cls, previous: "LexicalIndex | None", sources: np.ndarray,
                 new_tokens: list[list[str]]) -> "LexicalIndex":
        """An index whose row i is ``previous`` row ``sources[i]``, or, where that is -1, the next of
        ``new_tokens``: unchanged passages are never tokenised or counted again."""
        from scipy import sparse

        terms = dict(previous.vocabulary) if previous else {}
        new_rows = _count(new_tokens, terms)
        old_rows = previous._matrix().tocsr() if previous else sparse.csr_matrix((0, 0), dtype=np.float32)
        old_rows.resize(old_rows.shape[0], len(terms))
        stacked = sparse.vstack([old_rows, new_rows], format="csr")
        # Rows of ``stacked``: the previous index's, then the new ones; pick them in final order.
        order = np.where(sources >= 0, sources, old_rows.shape[0] + np.cumsum(sources < 0) - 1)
        in_place = len(order) == stacked.shape[0] and np.array_equal(order, np.arange(len(order)))
        matrix = stacked if in_place or not len(order) else stacked[order]  # appending: no reordering
        lengths = np.asarray(matrix.sum(axis=1), dtype=np.float32).ravel()
        columns = matrix.tocsc()
        # Terms that only removed passages had are dropped: ``coverage`` asks whether a word is in the corpus,
        # and a stale term made an index differ from one built afresh from the same passages (a question
        # about a removed article kept the lexical weight of a question in the corpus's language).
        present = np.diff(columns.indptr) > 0
        if not present.all():
            columns = columns[:, np.flatnonzero(present)].tocsc()
            words = sorted(terms, key=terms.__getitem__)
            terms = {word: i for i, word in enumerate(w for w, keep in zip(words, present, strict=True) if keep)}
        return cls(terms, (columns.indptr, columns.indices, columns.data.astype(np.float32)), lengths)

    def _matrix(self) -> Any:
        from scipy import sparse

        return sparse.csc_matrix(self._tf[::-1], shape=(len(self._lengths), len(self.vocabulary)))

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        """BM25 score of every passage for the query tokens (zeros where nothing matches)."""
        scores = np.zeros(len(self._lengths), dtype=np.float32)
        count = len(self._lengths)
        norm = self.K1 * (1 - self.B + self.B * self._lengths / self._average)
        indptr, indices, data = self._tf
        for token in query_tokens:  # a repeated token counts again, as in bm25s
            column = self.vocabulary.get(token)
            if column is None:
                continue
            lo, hi = indptr[column], indptr[column + 1]
            rows, freq = indices[lo:hi], data[lo:hi]
            idf = np.log(1 + (count - (hi - lo) + 0.5) / (hi - lo + 0.5))
            scores[rows] += (idf * freq / (norm[rows] + freq)).astype(np.float32)
        return scores

    def coverage(self, query_tokens: list[str]) -> float:
        """Share of the query's tokens that occur anywhere in the corpus (0 for a foreign language)."""
        return sum(t in self.vocabulary for t in query_tokens) / len(query_tokens) if query_tokens else 0.0

    def save(self, folder: Path) -> None:
        indptr, indices, data = self._tf
        with open(folder / "frequencies.npz", "wb") as fh:
            np.savez(fh, indptr=indptr, indices=indices, data=data, lengths=self._lengths,
                     shape=np.array([len(self._lengths), len(self.vocabulary)]))
        words = sorted(self.vocabulary, key=self.vocabulary.__getitem__)
        (folder / "vocabulary.json").write_text(json.dumps(words, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> "LexicalIndex":
        with np.load(folder / "frequencies.npz") as arrays:
            shape = tuple(int(n) for n in arrays["shape"])
            tf = (arrays["indptr"], arrays["indices"], arrays["data"])
            lengths = arrays["lengths"]
        words = json.loads((folder / "vocabulary.json").read_text(encoding="utf-8"))
        if len(words) != shape[1] or len(lengths) != shape[0] or len(tf[0]) != shape[1] + 1:
            raise ValueError(f"{len(words)} terms for {shape[1]} columns")
        return cls({word: i for i, word in enumerate(words)}, tf, lengths)


def _count(token_lists: list[list[str]], terms: dict[str, int]) -> Any:
    """Term counts of each token list (new terms are added to ``terms``), one row per list."""
    indptr, indices, data = [0], [], []
    for tokens in token_lists:
        # bm25s drops an empty document's row; a placeholder token keeps rows aligned with passages.
        counts = Counter(tokens or ["\u2400"])
        indices.extend(terms.setdefault(term, len(terms)) for term in counts)
        data.extend(counts.values())
        indptr.append(len(indices))
    from scipy import sparse

    return sparse.csr_matrix((np.array(data, dtype=np.float32), np.array(indices, dtype=np.int32),
                              np.array(indptr, dtype=np.int64)), shape=(len(token_lists), len(terms)))
