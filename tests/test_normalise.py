"""Normalisation rules, one row each, and the promise that displayed text is never changed."""

import pytest

from index.normalise import is_arabic, normalise


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("مُحَمَّدٌ", "محمد"),  # harakat, shadda, tanween
        ("جمــــيل", "جميل"),  # tatweel
        ("أحمد", "احمد"),  # hamza above alef
        ("إسلام", "اسلام"),  # hamza below alef
        ("آمال", "امال"),  # madda
        ("ٱلله", "الله"),  # wasla
        ("مستشفى", "مستشفي"),  # alef maqsura
        ("مدينة", "مدينه"),  # ta marbuta
        ("مسؤول", "مسوول"),  # hamza on waw
        ("٢٠٢١", "2021"),  # Arabic-Indic digits
        ("۲۰۲۱", "2021"),  # Eastern Arabic-Indic (Persian) digits
        ("\u2067واشنطن\u2069", "واشنطن"),  # bidi isolates
        ("وا\u200bشنطن", "واشنطن"),  # zero-width space
        ("\ufeffالمغرب", "المغرب"),  # byte-order mark
        ("Washington", "washington"),  # Latin is case-folded
    ],
)
def test_each_rule(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


def test_is_arabic_by_script() -> None:
    assert is_arabic("ما هي الضمانات التي قدمتها واشنطن للجزائر؟")
    assert not is_arabic("What guarantees did Washington offer Algeria?")
    assert is_arabic("ما معنى USA؟")
    assert not is_arabic("2021")
