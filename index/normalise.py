"""Arabic-aware normalisation for matching only; the text people see is never changed."""

import re
import unicodedata

# Bump when any rule below changes: indexes record it and refuse to mix versions.
NORMALISER_VERSION = "1"

# Harakat, tanween, shadda, sukun, superscript alef, Quranic marks: they vary between writers of
# the same word, so matching ignores them.
_DIACRITICS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06dc\u06df-\u06e8\u06ea-\u06ed]")
# Tatweel (kashida) stretches letters for layout only.
_TATWEEL = "\u0640"
# Bidi controls, zero-width characters and the BOM: invisible, but they split words when left in.
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2066-\u2069\u061c\ufeff\u00ad]")
_LETTERS = str.maketrans(
    {
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",
        "ى": "ي",
        "ة": "ه",
        "ؤ": "و",
        "ئ": "ي",
        # Arabic-Indic and Eastern Arabic-Indic (Persian) digits → ASCII, so "٢٠٢١" matches "2021".
        **{chr(0x0660 + d): str(d) for d in range(10)},
        **{chr(0x06F0 + d): str(d) for d in range(10)},
    }
)


def normalise(text: str) -> str:
    """Return ``text`` folded for matching: NFKC, no diacritics or tatweel, one alef, lower case."""
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text)
    text = _DIACRITICS.sub("", text).replace(_TATWEEL, "")
    return text.translate(_LETTERS).casefold()


def is_arabic(text: str) -> bool:
    """True when most letters of ``text`` are Arabic script."""
    arabic = sum(1 for ch in text if "\u0600" <= ch <= "\u06ff" or "\u0750" <= ch <= "\u077f")
    latin = sum(1 for ch in text if ch.isalpha() and ch.isascii())
    return arabic > 0 and arabic >= latin
