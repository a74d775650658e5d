"""Arabic tokens for BM25: normalised, light-stemmed, stopwords out, diacritics no barrier."""

import pytest

from index.lexical import LexicalIndex, light_stem, tokenise


@pytest.mark.parametrize(
    ("word", "stem"),
    [
        ("الجزاير", "جزاير"),  # article
        ("والجزاير", "جزاير"),  # conjunction + article
        ("بالمغرب", "مغرب"),  # preposition + article
        ("للجزاير", "جزاير"),  # lam + article
        ("علاقاتها", "علاقات"),  # one ending only: the pronoun
        ("وزير", "وزير"),  # و is the word's own letter: 4 letters must remain
        ("washington", "washington"),  # not Arabic: unchanged
    ],
)
def test_light_stem(word: str, stem: str) -> None:
    assert light_stem(word) == stem


def test_diacritics_do_not_hide_words() -> None:
    assert tokenise("مُحَمَّدٌ") == ["محمد"]


def test_stopwords_and_case() -> None:
    assert tokenise("What is the Port of Al-Waha?") == ["port", "al", "waha"]
    assert "في" not in tokenise("في المدينة")


def test_bm25_scores_align_with_passages_and_know_coverage() -> None:
    docs = [tokenise("توسعة الميناء التجاري"), [], tokenise("حريق في المكتبة")]
    lexical = LexicalIndex.build(docs)
    scores = lexical.scores(tokenise("الميناء"))
    assert scores.shape == (3,)
    assert scores[0] > 0 and scores[1] == 0 and scores[2] == 0
    assert lexical.coverage(tokenise("library fire")) == 0.0
    assert lexical.coverage(tokenise("المكتبة harbour")) == 0.5
