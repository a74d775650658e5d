"""Arabic tokens for BM25: normalised, light-stemmed, stopwords out, diacritics no barrier."""

import numpy as np
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


DOCS = ["توسعة الميناء التجاري في مدينة الواحة", "حريق في المكتبة القديمة بالمدينة", "",
        "افتتاح خط القطار بين الميناء والمدينة", "المكتبة تفتح أبوابها بعد الحريق، والميناء يعمل"]


def test_bm25_scores_match_bm25s() -> None:
    import bm25s

    docs = [tokenise(d) for d in DOCS]
    reference = bm25s.BM25()
    reference.index([tokens or ["\u2400"] for tokens in docs], show_progress=False)
    query = tokenise("الميناء والمدينة الميناء حريق")  # a repeated word counts twice in both
    assert np.allclose(LexicalIndex.build(docs).scores(query), reference.get_scores(query), atol=1e-5)


def test_assembled_index_equals_one_built_whole(tmp_path) -> None:
    docs = [tokenise(d) for d in DOCS]
    old = LexicalIndex.build(docs[:3])
    # Final rows: old row 2, a new passage, old row 0, another new one (old row 1 was removed).
    assembled = LexicalIndex.assemble(old, np.array([2, -1, 0, -1]), [docs[3], docs[4]])
    whole = LexicalIndex.build([docs[2], docs[3], docs[0], docs[4]])
    for question in ("الميناء", "حريق المكتبة", "القطار"):
        assert np.allclose(assembled.scores(tokenise(question)), whole.scores(tokenise(question)), atol=1e-6)
    assembled.save(tmp_path)
    loaded = LexicalIndex.load(tmp_path)
    assert np.allclose(loaded.scores(tokenise("الميناء")), whole.scores(tokenise("الميناء")), atol=1e-6)
    assert loaded.coverage(tokenise("القطار harbour")) == 0.5
    # The removed passage's words are gone from the vocabulary, as in the index built whole: coverage of a
    # question about it is what a fresh index would say.
    assert set(assembled.vocabulary) == set(whole.vocabulary)
    only_removed = [t for t in docs[1] if t not in set(docs[0] + docs[2] + docs[3] + docs[4])]
    assert only_removed and assembled.coverage(only_removed) == whole.coverage(only_removed) == 0.0


def test_appended_passages_go_to_the_tail_with_the_scores_of_an_index_built_whole(
        tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("index.lexical.TAIL_MIN", 2)
    docs = [tokenise(d) for d in DOCS]
    base = LexicalIndex.build(docs[:2])
    (tmp_path / "a").mkdir()
    base.save(tmp_path / "a")
    one = LexicalIndex.assemble(LexicalIndex.load(tmp_path / "a"), np.array([0, 1, -1]), [docs[2]])
    two = LexicalIndex.assemble(one, np.array([0, 1, 2, -1]), [docs[3]])
    assert len(two.tail.lengths) == 2 and two.base is one.base  # appended: the base is not touched
    (tmp_path / "b").mkdir()
    two.save(tmp_path / "b")  # the base linked, not written again
    assert (tmp_path / "b" / "frequencies.npz").stat().st_ino == (tmp_path / "a" / "frequencies.npz").stat().st_ino
    merged = LexicalIndex.assemble(two, np.array([0, 1, 2, 3, -1]), [docs[4]])  # past TAIL_MIN: one segment
    assert len(merged.tail.lengths) == 0 and merged.base_folder is None
    for index in (LexicalIndex.load(tmp_path / "b"), merged):
        whole = LexicalIndex.build(docs[:len(index.base.lengths) + len(index.tail.lengths)])
        for question in ("الميناء", "حريق المكتبة", "القطار", "الميناء والمدينة الميناء"):
            assert np.allclose(index.scores(tokenise(question)), whole.scores(tokenise(question)), atol=1e-6)
        assert index.coverage(tokenise("القطار harbour")) == 0.5 and index.vocabulary == whole.vocabulary
    # Removing a passage merges the tail too.
    removed = LexicalIndex.assemble(two, np.array([0, 2, 3]), [])
    assert len(removed.tail.lengths) == 0
    assert np.allclose(removed.scores(tokenise("الميناء")),
                       LexicalIndex.build([docs[0], docs[2], docs[3]]).scores(tokenise("الميناء")), atol=1e-6)
