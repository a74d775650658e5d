"""Citation markers in a streamed LLM answer: held back when split, dropped when invented, renumbered."""

import pytest

from assistant.grounding import MarkerFilter, claims, says_not_found, tidy, wrong_language
from assistant.prompts import NOT_FOUND


def run(tokens: list[str], passages: int = 3) -> tuple[MarkerFilter, list[str]]:
    markers = MarkerFilter(passages)
    shown = [markers.feed(token) for token in tokens] + [markers.finish()]
    return markers, shown


def test_a_marker_split_across_tokens_is_shown_only_when_complete() -> None:
    markers, shown = run(["The fire [", "2", "] started", " at night [", "1", "]."])
    assert shown == ["The fire ", "", "[1] started", " at night ", "", "[2].", ""]
    assert markers.order == [2, 1]  # passage 2 was cited first, so it is shown as [1]
    assert markers.text == "The fire [1] started at night [2]."


def test_no_delta_ever_holds_part_of_a_marker() -> None:
    reply = "Port [1]. Cost [3][2]. Firm [ 2 , 3 ]. Also [١]."
    for size in (1, 2, 3, 5):
        _, shown = run([reply[i:i + size] for i in range(0, len(reply), size)])
        for piece in shown:
            assert piece.count("[") == piece.count("]"), (size, piece)


@pytest.mark.parametrize(
    ("reply", "text", "invented"),
    [
        ("A [7].", "A.", [7]),  # no such passage
        ("A [0] b [2].", "A b [1].", [0]),
        ("A [1, 9].", "A [1].", [9]),
        ("A [Passage 3] b [المقطع ٢].", "A [1] b [2].", []),
        ("A [2-3].", "A [1][2].", []),
        ("A [1][1] b [1].", "A [1] b [1].", []),
        ("A 【2】 b ［3］.", "A [1] b [2].", []),
    ],
)
def test_markers_are_checked_and_renumbered(reply: str, text: str, invented: list[int]) -> None:
    markers, _ = run([reply])
    assert tidy(markers.text) == text
    assert markers.invented == invented


def test_brackets_that_are_not_markers_are_text() -> None:
    markers, shown = run(["See [the report] and [", "a long aside that is clearly not a citation marker at all]", " ["])
    assert markers.text == "See [the report] and [a long aside that is clearly not a citation marker at all] ["
    assert markers.order == []
    assert shown[-1] == "["  # an unclosed "[" at the end is released by finish()


def test_tidy_claims_and_numbers() -> None:
    text = tidy("Washington offered guarantees  [1] . It wants stability [2][1][2].")
    assert text == "Washington offered guarantees [1]. It wants stability [2][1]."
    assert claims(text) == [("Washington offered guarantees", [1]), ("It wants stability", [2, 1])]


def test_language_check_counts_letters_not_names() -> None:
    arabic = "قدمت واشنطن للجزائر ضمانات جادة بشأن حماية الأمن الوطني، كما قال Antony Blinken [1]."
    assert not wrong_language(arabic, arabic_question=True)
    assert wrong_language("Washington offered Algeria serious guarantees about its security [1].", True)
    assert wrong_language(arabic, arabic_question=False)
    assert not wrong_language("Too short [1].", arabic_question=True)  # too few letters to judge


@pytest.mark.parametrize("reply", [NOT_FOUND["en"], NOT_FOUND["ar"], "the articles do not answer this question",
                                   "لا تُجيب المقالاتُ عن هذا السؤال"])
def test_the_fixed_not_found_phrase_is_recognised(reply: str) -> None:
    assert says_not_found(reply, list(NOT_FOUND.values()))


def test_an_answer_is_not_taken_for_the_not_found_phrase() -> None:
    assert not says_not_found("The articles say the port will cost 8.8 million dinars [1].", list(NOT_FOUND.values()))
