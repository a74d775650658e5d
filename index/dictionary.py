"""An English question's words in Arabic, from a bilingual dictionary, so BM25 can match Arabic articles.

BM25 only helps a question in the corpus's language: an English question shares little more than numbers and
Latin names with Arabic articles, so its lexical weight fades (assistant/retrieval.py). Looking its content
words up in an English-Arabic dictionary ("guarantees" -> الضمانات, "Algeria" -> الجزائر) gives BM25 and the
answer step's word overlap Arabic words to match: on XQuAD's English questions hit@1 rose by 2.5-3 points
and answers by 3-5 (docs/quality.md).

The dictionary is FreeDict's English-Arabic (Arabeyes, 87,424 headwords, GPL), from Debian's package
``dict-freedict-eng-ara`` (scripts/setup installs it), read in place in its dictd format: an index of
``headword<TAB>offset<TAB>length`` lines (numbers in base 64) into a gzip-compressed text of entries, each the
headword line (with its pronunciation) followed by its translations. ``DALIL_DICTIONARY`` names another
dictionary in that format (the path without ``.index`` / ``.dict.dz``), or ``none``. Without one, questions are
matched as before.
"""

import functools
import gzip
import logging
import os
import re
import threading
import zlib
from pathlib import Path

from index.normalise import is_arabic

DEFAULT = Path("/usr/share/dictd/freedict-eng-ara")
log = logging.getLogger(__name__)
TRANSLATIONS_PER_WORD = 2  # FreeDict gives one for most words; a second rarely adds (harness: ±0.1 point)
_BASE64 = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
_ARABIC_LETTER = re.compile(r"[\u0621-\u064a]")
_SENSE_NUMBER = re.compile(r"^\s*\d+\s*[.)]\s*")
# Function words: translated, they would match every article ("what" -> ماذا).
STOPWORDS = frozenset("""
a an the of in on at to for from by with and or is are was were be been being what which who whom whose when
where why how did do does done that this these those it its as many much there has have had can could would
should will shall may might not no yes also than then some any other into about over under after before
during while if so such own same very just only
i me my we us our you your he him his she her they them their
""".split())


class Dictionary:
    """A dictd dictionary: headwords and their entries, read on first use."""

    def __init__(self, prefix: Path) -> None:
        self.prefix = prefix
        # Each headword's "offset<TAB>length", decoded only when looked up: decoding all 87k took ~0.3 s of
        # the first English question.
        self._places: dict[str, list[str]] = {}
        for line in Path(f"{prefix}.index").read_text(encoding="utf-8").splitlines():
            word, _, place = line.partition("\t")
            self._places.setdefault(word, []).append(place)

    @functools.cached_property
    def _text(self) -> bytes:
        """The entries (dictzip is gzip-compatible); empty when the file cannot be read, so a damaged one
        translates nothing, once, instead of failing every English question."""
        try:
            return gzip.decompress(Path(f"{self.prefix}.dict.dz").read_bytes())
        except (OSError, EOFError, zlib.error):
            return b""

    def translations(self, word: str) -> list[str]:
        """The Arabic translations of ``word`` (as written, lower-case or capitalised, without a possessive
        's), best first."""
        bare = re.sub(r"'s?$", "", word)
        for form in (word, word.lower(), word.capitalize(), bare, bare.lower(), bare.capitalize()):
            if form in self._places:
                try:
                    return [t for place in self._places[form] for t in _translations(self._entry(place))]
                except (ValueError, KeyError):  # a damaged index line: this word is not looked up
                    return []
        return []

    def _entry(self, place: str) -> str:
        offset, length = (_number(part) for part in place.split("\t")[:2])
        return self._text[offset:offset + length].decode("utf-8")

    def arabic_words(self, question: str) -> str:
        """The content words of a question not in Arabic script, in Arabic ("" for an Arabic question)."""
        if is_arabic(question):
            return ""
        # Single letters ("U.S." read as U and S) would bring their dictionary definitions ("the 21st letter").
        shouted = question.isupper()
        words = [w for w in _WORD.findall(question)
                 if len(w) > 1 and (_acronym(w, shouted) or w.lower() not in STOPWORDS)]
        return " ".join(t for w in words
                        for t in self.translations(w)[:1 if _acronym(w, shouted) else TRANSLATIONS_PER_WORD])


def _acronym(word: str, shouted: bool) -> bool:
    """An all-capitals word ("US", "UN") in a question not all in capitals: one meaning, its first sense (the
    dictionary's second is the lower-case word's: "us" -> نحن, "un-" the prefix)."""
    return word.isupper() and not shouted


def _translations(entry: str) -> list[str]:
    """An entry's translations: the lines after the headword that hold Arabic, split at commas, without the
    numbers of numbered senses ("1. الحادث"), which would match every number in the articles."""
    lines = entry.split("\n")[1:]
    parts = [_SENSE_NUMBER.sub("", part).strip() for line in lines if _ARABIC_LETTER.search(line)
             for part in re.split(r"[,،;؛]", line)]
    return [part for part in parts if part]


def _number(digits: str) -> int:
    value = 0
    for digit in digits:
        value = value * 64 + _BASE64[digit]
    return value


def _named() -> str | None:
    """What ``DALIL_DICTIONARY`` names (default: Debian's FreeDict English-Arabic), or None for none."""
    name = os.environ.get("DALIL_DICTIONARY", str(DEFAULT))
    return None if name.lower() in ("", "none") else name


def configured() -> str | None:
    """The dictionary English questions are matched through (its path without extensions), or None when
    there is none to read; for a health check: it does not load it."""
    name = _named()
    return name if name is not None and Path(f"{name}.index").is_file() else None


_loaded: dict[str, Dictionary | None] = {}
_loading = threading.Lock()  # the web app's first English questions may arrive together: read it once


def default_dictionary() -> Dictionary | None:
    """The dictionary ``DALIL_DICTIONARY`` names (default: Debian's FreeDict English-Arabic), or None; read
    once per process (one installed later is used after a restart)."""
    name = _named()
    if name is None:
        return None
    with _loading:
        if name not in _loaded:
            try:
                _loaded[name] = Dictionary(Path(name))
            except (OSError, ValueError):
                _loaded[name] = None  # no dictionary, or not one in dictd format: questions are matched as before
                if "DALIL_DICTIONARY" in os.environ:  # named by the user: say so (the default may be absent)
                    log.warning("DALIL_DICTIONARY=%s is not a dictd dictionary (%s.index and %s.dict.dz): English "
                                "questions are matched without one.", name, name, name)
        return _loaded[name]
