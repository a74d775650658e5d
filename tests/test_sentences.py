"""Sentence splitting: Arabic punctuation, decimals, abbreviations, and spans into the original text."""

from index.sentences import split_sentences


def pieces(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)]


def test_arabic_question_mark_and_semicolon() -> None:
    assert pieces("هل وصل الوفد؟ نعم وصل؛ ثم غادر.") == ["هل وصل الوفد؟", "نعم وصل؛", "ثم غادر."]


def test_decimals_stay_whole() -> None:
    assert pieces("بلغت التكلفة 8.8 مليون دينار. وبدأت الأشغال.") == ["بلغت التكلفة 8.8 مليون دينار.", "وبدأت الأشغال."]


def test_arabic_comma_does_not_split_short_sentences() -> None:
    text = "قال رئيس البلدية، سليم العطار، إن الأشغال ستبدأ."
    assert pieces(text) == [text]


def test_abbreviations_do_not_end_sentences() -> None:
    text = "قال د. عادل ناصر إنه مستعد. Dr. Haddad agreed."
    assert pieces(text) == ["قال د. عادل ناصر إنه مستعد.", "Dr. Haddad agreed."]


def test_newline_ends_a_sentence_and_exclamation() -> None:
    assert pieces("عنوان بلا نقطة\nجملة أولى! Second one?") == ["عنوان بلا نقطة", "جملة أولى!", "Second one?"]


def test_spans_point_into_original_text_with_diacritics() -> None:
    text = "  مُحَمَّدٌ وصلَ.  ثم   غادر؟"
    spans = split_sentences(text)
    assert [text[s:e] for s, e in spans] == ["مُحَمَّدٌ وصلَ.", "ثم   غادر؟"]


def test_run_on_sentence_is_cut_at_commas() -> None:
    clause = "وأضاف المتحدث أن المشروع سيستمر لسنوات طويلة في المنطقة الشرقية من البلاد"
    text = "، ".join([clause] * 12) + "."
    spans = split_sentences(text)
    assert len(spans) > 1
    assert all(e - s <= 450 for s, e in spans)
    assert text[spans[0][0]:spans[-1][1]] == text  # nothing lost


def test_sub_range() -> None:
    text = "أ. ب. جملة أولى. جملة ثانية."
    start = text.index("جملة")
    assert [text[s:e] for s, e in split_sentences(text, start)] == ["جملة أولى.", "جملة ثانية."]
