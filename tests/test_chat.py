"""The chat tab's handlers without a browser: what stays in the question box, and the status line."""

import pytest

from ui.chat import respond, status_html
from ui.library import Library


@pytest.fixture()
def library(fixture_assistant, tmp_path):
    library = Library(fixture_assistant, fixture_assistant.settings.model_copy(update={"upload_dir": tmp_path}))
    yield library
    library.close()


def test_a_refused_question_stays_in_the_box(library: Library) -> None:
    # Wiped, a 2,500-character question had to be copied back out of its chat bubble to be shortened.
    too_long = "Where does the harbour lantern parade start? " * 60
    box, history = respond(library, too_long, [])
    assert box == too_long
    assert "the limit is 2,000" in history[-1]["content"]
    box, history = respond(library, "Who is the library director in Karam?", history)
    assert box == "" and "Mona Haddad" in history[-1]["content"]


def test_an_empty_question_adds_nothing(library: Library) -> None:
    with pytest.warns(UserWarning, match="Type a question first"):
        assert respond(library, "   ", []) == ("", [])


def test_a_status_line_is_laid_out_left_to_right() -> None:
    # Opening with a quoted Arabic file name, "auto" laid the English sentence out right to left.
    html = status_html("'مقال_المكتبة.txt' is indexed already with this text: nothing changed.", "done")
    assert 'dir="ltr"' in html and "&#x27;مقال_المكتبة.txt&#x27; is indexed" in html
