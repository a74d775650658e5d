"""The chat's HTML: escaped text, clickable markers, highlighted sentences, bidi isolates."""

import pytest

from assistant.records import Answer, Citation
from ui import render
from ui.render import FSI, LRI, PDI

PASSAGE = "قال المتحدث إن الميناء سيفتح. <script>alert(1)</script> وأضاف أن العمل يبدأ في مارس."


def citation(n: int = 1, **extra) -> Citation:
    start = PASSAGE.index("<script>")
    fields = dict(n=n, source="news/port_expansion.txt", title="توسعة <b>الميناء</b>", text=PASSAGE, start=start,
                  end=start + len("<script>alert(1)</script>"), score=1.0, article_id="a1")
    return Citation(**{**fields, **extra})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain English stays as it is", "plain English stays as it is"),
        ("الملف report_v2.txt جاهز", f"الملف {LRI}report_v2.txt{PDI} جاهز"),
        ("بتكلفة 8.8 مليون", f"بتكلفة {LRI}8.8{PDI} مليون"),
        ("زار Joshua Harris الجزائر", f"زار {LRI}Joshua Harris{PDI} الجزائر"),
        ("نص عربي فقط", "نص عربي فقط"),
        # Brackets stay paired: the run gives up a closing bracket whose opening one is outside it.
        ("دانيال (Daniel Okoro) إن", f"دانيال ({LRI}Daniel Okoro{PDI}) إن"),
        ("(سؤال رقم 3)", f"(سؤال رقم {LRI}3{PDI})"),
        ("بنسبة (أي 40%) فقط", f"بنسبة (أي {LRI}40%{PDI}) فقط"),
        ("شركة 501(c)(3) غير ربحية", f"شركة {LRI}501(c)(3){PDI} غير ربحية"),  # its own brackets, kept
        ("قال Jonas (CEO للشركة", f"قال {LRI}Jonas{PDI} (CEO للشركة"),
    ],
)
def test_latin_runs_inside_arabic_are_isolated(text: str, expected: str) -> None:
    assert render.isolate(text) == expected


def test_article_text_is_escaped_and_the_sentence_highlighted() -> None:
    html = render.passage_html(citation(), key="k1")
    assert "<script>" not in html and "<b>" not in html
    assert "<mark>&lt;script&gt;alert(1)&lt;/script&gt;</mark>" in html
    assert f"{FSI}news/port_expansion.txt{PDI}" in html  # a Latin file name inside an Arabic line
    assert 'id="dalil-k1-1"' in html and 'dir="auto"' in html


def test_markers_link_to_their_passages_and_stray_markers_stay_text() -> None:
    answer = Answer("q <img src=x onerror=alert(1)>", "الميناء سيفتح [1] وأيضا [7].", False, [citation()])
    html = render.answer_html(answer, key="k2")
    assert '<a class="dalil-marker" href="#dalil-k2-1">[1]</a>' in html
    assert "[7]" in html and "#dalil-k2-7" not in html
    assert "abstained" not in html
    assert "\n" not in html  # one HTML block for Gradio's Markdown pass
    assert "<img" not in render.question_html(answer.question)


def test_an_abstained_answer_is_marked_and_keeps_its_passages() -> None:
    answer = Answer("q", "The articles do not answer this question. The closest passages are [1].", True,
                    [citation()])
    html = render.answer_html(answer, key="k3")
    assert 'class="dalil-answer abstained"' in html and render.NOT_FOUND_LABEL in html
    assert 'id="dalil-k3-1"' in html


def test_only_web_links_are_linked() -> None:
    safe = render.passage_html(citation(metadata={"url": "https://news.example/a?b=1&c=2", "date": "2024-03-01"}), "k")
    assert 'href="https://news.example/a?b=1&amp;c=2"' in safe and "2024-03-01" in safe
    unsafe = render.passage_html(citation(metadata={"url": "javascript:alert(1)"}), "k")
    assert "javascript:" not in unsafe


def test_articles_table_escapes_titles() -> None:
    rows = [{"title": "<img src=x onerror=alert(1)>", "source": "a.txt", "passages": 2, "added_at": "2024",
             "uploaded": True}]
    html = render.articles_html(rows)
    assert "<img" not in html and "&lt;img" in html and "(uploaded)" in html


def test_a_passage_cited_twice_is_shown_once_with_both_sentences_marked() -> None:
    passage = "First sentence here. Second sentence there. Third one."
    one = Citation(n=1, source="a.txt", title="A", text=passage, start=21, end=43, score=1.0, article_id="x")
    two = Citation(n=2, source="a.txt", title="A", text=passage, start=0, end=20, score=0.5, article_id="x")
    other = Citation(n=3, source="b.txt", title="B", text="Other passage.", start=0, end=14, score=0.2, article_id="y")
    answer = Answer("q", "Second sentence there. [1] First sentence here. [2] Other passage. [3]", False,
                    [one, two, other])
    html = render.answer_html(answer, key="k")
    assert html.count('class="dalil-passage"') == 2
    assert html.count("<mark>") == 3
    assert html.index("<mark>First sentence here.</mark>") < html.index("<mark>Second sentence there.</mark>")
    for n in (1, 2, 3):  # every marker's anchor exists
        assert f'href="#dalil-k-{n}"' in html and f'id="dalil-k-{n}"' in html
