"""Lexical matching: Arabic-aware tokens (normalised, light-stemmed) and a BM25 index over them."""

import json
import os
import re
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from index.appendable import only_appends
from index.dictionary import default_dictionary
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


def question_tokens(question: str) -> list[str]:
    """A question's tokens for BM25 and word overlap: ``tokenise``'s, and for a question not in Arabic, its
    words' Arabic translations too (index/dictionary.py), so it can match Arabic articles."""
    dictionary = default_dictionary()
    translated = dictionary.arabic_words(question) if dictionary is not None else ""
    return tokenise(question) + (tokenise(translated) if translated else [])


def _is_arabic_word(token: str) -> bool:
    return "\u0621" <= token[0] <= "\u064a"


# Passages appended since the last merge are kept in a second, small segment (the tail), so adding an article
# rewrites only that: re-assembling and rewriting every term count (35 MB at 20,000 articles) cost ~0.4 s of
# each add. The tail is merged into the base when it passes this many passages or this share of the base.
TAIL_MIN = 1000
TAIL_SHARE = 20
BASE_FILES = ("frequencies.npz", "vocabulary.json")
TAIL_FILES = ("tail.npz", "tail-vocabulary.json")


class Segment:
    """Raw term counts of consecutive passages, compressed by column (term): the arrays of a scipy CSC matrix,
    kept bare so that answering never imports scipy (~0.25 s at start-up)."""

    def __init__(self, terms: dict[str, int], frequencies: tuple[np.ndarray, np.ndarray, np.ndarray],
                 lengths: np.ndarray) -> None:
        self.terms = terms  # term -> column
        self.indptr, self.indices, self.data = frequencies
        self.lengths = lengths  # tokens per passage

    @classmethod
    def empty(cls) -> "Segment":
        return cls({}, (np.zeros(1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.float32)), np.zeros(0, np.float32))

    @classmethod
    def of(cls, matrix: Any, terms: dict[str, int]) -> "Segment":
        """The segment of a (passages x terms) scipy matrix whose columns ``terms`` names."""
        columns = matrix.tocsc()
        lengths = np.asarray(columns.sum(axis=1), dtype=np.float32).ravel()
        return cls(terms, (columns.indptr, columns.indices, columns.data.astype(np.float32)), lengths)

    def column(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """The rows holding ``term`` and its counts there (empty when the segment lacks it)."""
        column = self.terms.get(term)
        if column is None:
            return self.indices[:0], self.data[:0]
        lo, hi = self.indptr[column], self.indptr[column + 1]
        return self.indices[lo:hi], self.data[lo:hi]

    def matrix(self) -> Any:
        from scipy import sparse

        return sparse.csc_matrix((self.data, self.indices, self.indptr), shape=(len(self.lengths), len(self.terms)))

    def save(self, folder: Path, names: tuple[str, str]) -> None:
        with open(folder / names[0], "wb") as fh:
            np.savez(fh, indptr=self.indptr, indices=self.indices, data=self.data, lengths=self.lengths,
                     shape=np.array([len(self.lengths), len(self.terms)]))
        words = sorted(self.terms, key=self.terms.__getitem__)
        (folder / names[1]).write_text(json.dumps(words, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, names: tuple[str, str]) -> "Segment":
        with np.load(folder / names[0]) as arrays:
            shape = tuple(int(n) for n in arrays["shape"])
            tf = (arrays["indptr"], arrays["indices"], arrays["data"])
            lengths = arrays["lengths"]
        words = json.loads((folder / names[1]).read_text(encoding="utf-8"))
        if len(words) != shape[1] or len(lengths) != shape[0] or len(tf[0]) != shape[1] + 1:
            raise ValueError(f"{len(words)} terms for {shape[1]} columns")
        return cls({word: i for i, word in enumerate(words)}, tf, lengths)


class StoredSegment(Segment):
    """A saved segment whose term counts are read on first use: a build that only appends passages needs the
    base's passage lengths and its files to link, not its counts (35 MB at 20,000 articles) nor its terms."""

    def __init__(self, folder: Path, names: tuple[str, str]) -> None:  # the counts are _segment's, when read
        with np.load(folder / names[0]) as arrays:  # an .npz reads only the members asked for
            self.lengths = arrays["lengths"]
        self._folder, self._names = folder, names
        self._segment: Segment | None = None

    def _loaded(self) -> Segment:
        if self._segment is None:
            self._segment = Segment.load(self._folder, self._names)
        return self._segment

    terms = property(lambda self: self._loaded().terms)  # type: ignore[assignment]
    indptr = property(lambda self: self._loaded().indptr)  # type: ignore[assignment]
    indices = property(lambda self: self._loaded().indices)  # type: ignore[assignment]
    data = property(lambda self: self._loaded().data)  # type: ignore[assignment]


class LexicalIndex:
    """BM25 over the stemmed tokens of each passage, kept in passage order.

    The scores are bm25s's Okapi "lucene" variant (k1 1.5, b 0.75), but computed at query time from stored
    term frequencies instead of precomputed per passage: adding or removing passages then re-uses every
    other row as it is, where a precomputed index must be rebuilt whole (its idf and average length change).
    The counts are in two segments, the base and the passages appended after it (the tail); a passage's
    score is the same sum either way, so the split does not change any score.
    """

    K1, B = 1.5, 0.75

    def __init__(self, base: Segment, tail: Segment | None = None, base_folder: Path | None = None) -> None:
        self.base, self.tail = base, tail or Segment.empty()
        self.base_folder = base_folder  # a generation's folder holding ``base`` as saved: linked, not rewritten
        self._lengths = np.concatenate([self.base.lengths, self.tail.lengths])
        self._average = float(self._lengths.mean()) if len(self._lengths) else 1.0

    @property
    def vocabulary(self) -> set[str]:
        return set(self.base.terms) | set(self.tail.terms)

    @classmethod
    def build(cls, token_lists: list[list[str]]) -> "LexicalIndex":
        return cls.assemble(None, np.full(len(token_lists), -1), token_lists)

    @classmethod
    def assemble(cls, previous: "LexicalIndex | None", sources: np.ndarray,
                 new_tokens: list[list[str]]) -> "LexicalIndex":
        """An index whose row i is ``previous`` row ``sources[i]``, or, where that is -1, the next of
        ``new_tokens``: unchanged passages are never tokenised or counted again. Passages appended after
        every previous one go to the tail, until it is big enough to merge."""
        if previous is not None and only_appends(sources, len(previous._lengths)):
            tail_rows = len(previous.tail.lengths) + len(new_tokens)
            if tail_rows <= max(TAIL_MIN, len(previous.base.lengths) // TAIL_SHARE):
                return cls(previous.base, _appended(previous.tail, new_tokens), previous.base_folder)
        return cls(_merged(previous, sources, new_tokens))

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        """BM25 score of every passage for the query tokens (zeros where nothing matches)."""
        scores = np.zeros(len(self._lengths), dtype=np.float32)
        count = len(self._lengths)
        norm = self.K1 * (1 - self.B + self.B * self._lengths / self._average)
        parts = ((self.base, 0), (self.tail, len(self.base.lengths)))
        for token in query_tokens:  # a repeated token counts again, as in bm25s
            found = [(rows + offset, freq) for segment, offset in parts for rows, freq in [segment.column(token)]]
            matches = sum(len(rows) for rows, _ in found)
            if not matches:
                continue
            idf = np.log(1 + (count - matches + 0.5) / (matches + 0.5))
            for rows, freq in found:
                scores[rows] += (idf * freq / (norm[rows] + freq)).astype(np.float32)
        return scores

    def coverage(self, query_tokens: list[str]) -> float:
        """Share of the query's tokens that occur anywhere in the corpus (0 for a foreign language)."""
        if not query_tokens:
            return 0.0
        return sum(t in self.base.terms or t in self.tail.terms for t in query_tokens) / len(query_tokens)

    def save(self, folder: Path) -> None:
        """The base (hard-linked from the generation it was saved in, when there is one: it never changes
        once written) and the tail."""
        if self.base_folder is not None and all((self.base_folder / name).is_file() for name in BASE_FILES):
            for name in BASE_FILES:
                os.link(self.base_folder / name, folder / name)
        else:
            self.base.save(folder, BASE_FILES)
        self.tail.save(folder, TAIL_FILES)
        self.base_folder = folder  # the next generation (a fill's next step) links from this one

    @classmethod
    def load(cls, folder: Path, lazy: bool = False) -> "LexicalIndex":
        """The index saved in ``folder``; ``lazy``: its base read only when used (a build that appends)."""
        base = StoredSegment(folder, BASE_FILES) if lazy else Segment.load(folder, BASE_FILES)
        return cls(base, Segment.load(folder, TAIL_FILES), folder)


def _appended(tail: Segment, new_tokens: list[list[str]]) -> Segment:
    """The tail with the passages of ``new_tokens`` after its rows (numpy only: importing scipy took ~0.2 s
    of adding one article)."""
    terms = dict(tail.terms)
    counts = [Counter(tokens or ["\u2400"]) for tokens in new_tokens]  # as _count: no passage left empty
    new_rows = np.repeat(np.arange(len(tail.lengths), len(tail.lengths) + len(counts)), [len(c) for c in counts])
    new_columns = np.array([terms.setdefault(term, len(terms)) for c in counts for term in c], dtype=np.int64)
    rows = np.concatenate([tail.indices, new_rows]).astype(np.int32)
    columns = np.concatenate([np.repeat(np.arange(len(tail.terms)), np.diff(tail.indptr)), new_columns])
    data = np.concatenate([tail.data, np.array([n for c in counts for n in c.values()], dtype=np.float32)])
    order = np.lexsort((rows, columns))  # by column, then row: the CSC layout
    indptr = np.concatenate([[0], np.cumsum(np.bincount(columns, minlength=len(terms)))]).astype(np.int64)
    lengths = np.array([sum(c.values()) for c in counts], dtype=np.float32)
    return Segment(terms, (indptr, rows[order], data[order]), np.concatenate([tail.lengths, lengths]))


def _merged(previous: LexicalIndex | None, sources: np.ndarray, new_tokens: list[list[str]]) -> Segment:
    """One segment whose row i is ``previous`` row ``sources[i]`` or the next new passage."""
    from scipy import sparse

    terms = dict(previous.base.terms) if previous else {}
    old_rows = sparse.csr_matrix((0, 0), dtype=np.float32)
    if previous is not None:
        tail_columns = np.array([terms.setdefault(t, len(terms))
                                 for t in sorted(previous.tail.terms, key=previous.tail.terms.__getitem__)],
                                dtype=np.int32)
        base, tail = previous.base.matrix().tocsr(), previous.tail.matrix().tocoo()
        base.resize(base.shape[0], len(terms))
        tail = sparse.csr_matrix((tail.data, (tail.row, tail_columns[tail.col])), shape=(tail.shape[0], len(terms)))
        old_rows = sparse.vstack([base, tail], format="csr")
    new_rows = _count(new_tokens, terms)
    old_rows.resize(old_rows.shape[0], len(terms))
    stacked = sparse.vstack([old_rows, new_rows], format="csr")
    # Rows of ``stacked``: the previous index's, then the new ones; pick them in final order.
    order = np.where(sources >= 0, sources, old_rows.shape[0] + np.cumsum(sources < 0) - 1)
    in_place = len(order) == stacked.shape[0] and np.array_equal(order, np.arange(len(order)))
    matrix = stacked if in_place or not len(order) else stacked[order]  # appending: no reordering
    columns = matrix.tocsc()
    # Terms that only removed passages had are dropped: ``coverage`` asks whether a word is in the corpus,
    # and a stale term made an index differ from one built afresh from the same passages (a question
    # about a removed article kept the lexical weight of a question in the corpus's language).
    present = np.diff(columns.indptr) > 0
    if not present.all():
        columns = columns[:, np.flatnonzero(present)].tocsc()
        words = sorted(terms, key=terms.__getitem__)
        terms = {word: i for i, word in enumerate(w for w, keep in zip(words, present, strict=True) if keep)}
    return Segment.of(columns, terms)


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
