"""The evaluation metrics against values worked out by hand, on a tiny gold set written for these tests."""

import pytest

from assistant import metrics
from assistant.evaluation import GoldQuestion, score_question, summarise
from assistant.records import Answer, Citation, Hit
from index.records import Chunk


@pytest.mark.parametrize(
    ("text", "answer", "found"),
    [
        ("قال أنتوني بلينكن", "انتوني بلينكن", True),  # hamza on alef
        ("إسرائيل", "اسرائيل", True),  # hamza below
        ("القوات الجزائرية", "الجزائريه", True),  # ta marbuta
        ("مصطفى", "مصطفي", True),  # alef maqsura
        ("قُطِعَت العلاقات", "قطعت", True),  # diacritics
        ("جـــوشوا هاريس", "جوشوا هاريس", True),  # tatweel
        ("منذ عام ٢٠٢١", "2021", True),  # Arabic-Indic digits
        ("مع 136  استحواذاً", "136 استحواذا", True),  # doubled space and tanween
        ("An Electrical Fault", "electrical fault", True),  # case
        ("\u200fمغرب أنتلجنس", "مغرب انتلجنس", True),  # bidi mark
        ("منذ عام 2020", "2021", False),
        ("any text", "", False),  # an empty answer never matches
    ],
)
def test_contains_answer_after_normalisation(text: str, answer: str, found: bool) -> None:
    assert metrics.contains_answer(text, [answer]) is found


def test_first_hit_rank_and_mrr() -> None:
    passages = ["لا شيء هنا", "وفي عام ٢٠٢١ قطعت العلاقات", "2021 مرة أخرى"]
    assert metrics.first_hit_rank(passages, ["2021"]) == 2
    assert metrics.first_hit_rank(passages, ["غائب"]) is None
    assert metrics.reciprocal_rank(2) == 0.5
    assert metrics.reciprocal_rank(None) == 0.0
    assert metrics.reciprocal_rank(11, k=10) == 0.0
    assert [metrics.hit_at(2, k) for k in (1, 2, 5)] == [False, True, True]


@pytest.mark.parametrize(
    ("found", "gold", "same"),
    [
        ("xquad_ar_00.txt", "xquad_ar_00.txt", True),
        ("corpus_ar/xquad_ar_00.txt", "xquad_ar_00.txt", True),
        ("world/briefs.jsonl", "world/briefs.jsonl", True),
        ("xquad_ar_000.txt", "xquad_ar_00.txt", False),
        ("a/xquad_ar_00.txt", "b/xquad_ar_00.txt", False),
    ],
)
def test_same_source(found: str, gold: str, same: bool) -> None:
    assert metrics.same_source(found, gold) is same


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("The U.S. army", ["us", "army"]),  # SQuAD: articles dropped, punctuation deleted
        ("الجزائرُ، والمغرب", ["جزاير", "والمغرب"]),  # leading ال only (و+ال stays whole); ئ -> ي
        ("ال", ["ال"]),  # too short to be an article
        ("8.8 مليون دينار [1]", ["88", "مليون", "دينار", "1"]),
        ("عامَ ٢٠٢١", ["عام", "2021"]),
    ],
)
def test_answer_tokens(text: str, tokens: list[str]) -> None:
    assert metrics.answer_tokens(text) == tokens


def test_token_f1_and_exact_match() -> None:
    # prediction tokens: قطعت علاقات عام 2021 بين بلدين (6); gold: عام 2021 (2); 2 shared.
    # precision 2/6, recall 2/2 -> F1 = 2 * (1/3) * 1 / (1/3 + 1) = 0.5
    assert metrics.token_f1("قطعت العلاقات عام 2021 بين البلدين.", "عام ٢٠٢١") == pytest.approx(0.5)
    assert metrics.best_f1("1200 فرصة عمل", ["شيء آخر", "1200 فرصه عمل"]) == 1.0
    assert metrics.best_f1("anything", []) == 0.0
    assert metrics.exact_match("The 1200 فرصة عمل!", ["1200 فرصه عمل"])
    assert not metrics.exact_match("نحو 1200 فرصة عمل", ["1200 فرصه عمل"])


def test_markers_and_citation_ok() -> None:
    assert metrics.markers_resolve("جملة [1] وأخرى [2]", [1, 2])
    assert not metrics.markers_resolve("جملة [3]", [1, 2])
    assert metrics.citation_ok("x [1]", ["لا", "فيه 2021"], [1, 2], ["2021"])
    assert not metrics.citation_ok("x [3]", ["فيه 2021"], [1], ["2021"])  # dangling marker
    assert not metrics.citation_ok("x [1]", ["لا شيء"], [1], ["2021"])  # no cited passage has it


def test_abstention_scores() -> None:
    # answerable: T T F F; abstained: T F T F -> 1 right abstention of 2, 1 of 2 unanswerable, 1 of 2 answerable
    scores = metrics.abstention_scores([True, True, False, False], [True, False, True, False])
    assert scores == {"abstention_precision": 0.5, "abstention_recall": 0.5, "false_abstention_rate": 0.5}
    no_unanswerable = metrics.abstention_scores([True, True], [True, False])
    assert no_unanswerable == {"abstention_precision": None, "abstention_recall": None,
                               "false_abstention_rate": 0.5}


def test_percentile_is_linear_between_ranks() -> None:
    values = [40.0, 10.0, 30.0, 20.0, 100.0]
    assert metrics.percentile(values, 50) == 30.0
    assert metrics.percentile(values, 95) == pytest.approx(88.0)  # 40 + 0.8 * (100 - 40)
    assert metrics.percentile([], 50) is None


# A tiny gold set with answers made by hand, scored as the evaluator scores the assistant's answers.
def chunk(text: str, source: str) -> Chunk:
    return Chunk(id=f"{source}:{text[:8]}", article_id=source, source=source, title=source, text=text,
                 start=0, end=len(text), sentences=((0, len(text)),))


P_OTHER = chunk("زار الوزير الجزائر يوم الأربعاء.", "news/b.txt")
P_YEAR = chunk("قُطِعَت العلاقات عامَ 2021 بين البلدين.", "news/a.txt")
P_JOBS_1 = chunk("ستوفر التوسعة 1200 فرصة عمل.", "port.txt")
P_JOBS_2 = chunk("وقال الوزير إن ١٢٠٠ فرصة عمل ستتاح للشباب.", "port.txt")
P_TENDER = chunk("فازت شركة البحر الأزرق بالمناقصة.", "port.txt")


def answer(question: str, text: str, abstained: bool, cited: list[Chunk], hits: list[Chunk]) -> Answer:
    citations = [Citation.from_chunk(n, c, (0, len(c.text)), 1.0) for n, c in enumerate(cited, start=1)]
    return Answer(question, text, abstained, citations, hits=[Hit(c, 1.0, 0.5, 0.0) for c in hits])


CASES = [
    # Arabic; answer in diacritised text with a different digit form; found at rank 2; F1 0.5 (see above).
    (GoldQuestion("q1", "متى قطعت الجزائر علاقاتها؟", ("عام ٢٠٢١",), "news/a.txt", context=P_YEAR.text),
     answer("q1", "قطعت العلاقات عام 2021 بين البلدين. [1]", False, [P_YEAR], [P_OTHER, P_YEAR]), 10.0),
    # English; the answer is in two passages: the first is a lucky match, the gold paragraph is the second,
    # and the citation points at it.
    (GoldQuestion("q2", "How many jobs will the port create?", ("1200 فرصة عمل",), "port.txt",
                  context=P_JOBS_2.text),
     answer("q2", "1200 فرصة عمل [1]", False, [P_JOBS_2], [P_JOBS_1, P_JOBS_2]), 20.0),
    # Arabic, unanswerable, rightly abstained.
    (GoldQuestion("q3", "ما عدد سكان الواحة؟", (), None, answerable=False),
     answer("q3", "The articles do not answer this question. The closest passages are [1].", True,
            [P_OTHER], [P_OTHER]), 30.0),
    # English, answerable, wrongly abstained although the cited passage holds the answer.
    (GoldQuestion("q4", "Who won the tender?", ("شركة البحر الأزرق",)),
     answer("q4", "The articles do not answer this question. The closest passages are [1].", True,
            [P_TENDER], [P_TENDER]), 40.0),
    # English, unanswerable but answered, with a marker that points at nothing.
    (GoldQuestion("q5", "When was the dam built?", (), None, answerable=False),
     answer("q5", "زار الوزير الجزائر [2]", False, [P_OTHER], [P_OTHER]), 100.0),
]


@pytest.fixture()
def rows() -> list[dict]:
    return [score_question(gold, ans, ms) for gold, ans, ms in CASES]


def test_each_question_scored_by_hand(rows: list[dict]) -> None:
    picked = [(r["first_hit_rank"], r["source_rank"], r["answer_hit"], r["answer_f1"], r["exact_match"],
               r["citation_ok"], r["markers_ok"], r["language"]) for r in rows]
    assert picked == [
        (2, 2, True, 0.5, False, True, True, "arabic"),
        (1, 1, True, 1.0, True, True, True, "other"),
        (None, None, None, None, None, None, True, "arabic"),
        (1, None, False, 0.0, False, False, True, "other"),
        (None, None, None, None, None, None, False, "other"),
    ]
    assert [r["passage_rank"] for r in rows] == [2, 2, None, None, None]


def test_summary_matches_hand_computed_values(rows: list[dict]) -> None:
    overall = summarise(rows, ks=(1, 5))
    assert overall == {
        "questions": 5, "answerable": 3, "unanswerable": 2,
        "hit@1": 0.6667, "hit@5": 1.0, "mrr@10": 0.8333,  # ranks 2, 1, 1
        "source@1": 0.5, "source@5": 1.0,  # q1 and q2 have a source: ranks 2 and 1
        "passage@1": 0.0, "passage@5": 1.0,  # q1 and q2 have a context: the gold paragraph is second in both
        "answer_hit": 0.6667, "answer_f1": 0.5, "exact_match": 0.3333,  # F1 (0.5 + 1 + 0) / 3
        "citation_ok": 0.6667, "markers_ok": 0.8,
        "abstention_precision": 0.5, "abstention_recall": 0.5, "false_abstention_rate": 0.3333,
        "latency_p50_ms": 30.0, "latency_p95_ms": 88.0,
    }


def test_summary_by_language(rows: list[dict]) -> None:
    arabic = summarise([r for r in rows if r["language"] == "arabic"], ks=(1, 5))
    other = summarise([r for r in rows if r["language"] == "other"], ks=(1, 5))
    assert (arabic["hit@1"], arabic["hit@5"], arabic["mrr@10"]) == (0.0, 1.0, 0.5)
    assert (arabic["abstention_precision"], arabic["abstention_recall"], arabic["false_abstention_rate"]) == \
        (1.0, 1.0, 0.0)
    assert (other["hit@1"], other["mrr@10"], other["answer_hit"]) == (1.0, 1.0, 0.5)
    assert (other["abstention_precision"], other["abstention_recall"], other["false_abstention_rate"]) == \
        (0.0, 0.0, 0.5)
    assert other["source@1"] == 1.0  # only q2 has a source among the English questions


def test_passage_rank_counts_the_answer_in_its_own_paragraph() -> None:
    context = "الفقرة الأولى من المقال. وفيها الجواب: عامَ ٢٠٢١."
    passages = ["فقرة أخرى فيها 2021 أيضا.", "الفقرة الأولى من المقال.", "وفيها الجواب: عام 2021.", context]
    # rank 1 holds the answer but is another paragraph; rank 2 is a piece of the gold one without the answer
    assert metrics.passage_rank(passages, context, ["2021"]) == 3
    assert metrics.first_hit_rank(passages, ["2021"]) == 1
    assert metrics.passage_rank(["عنوان\n\n" + context], context, ["2021"]) == 1  # a passage holding it whole
    assert metrics.passage_rank(passages[:2], context, ["2021"]) is None
    assert metrics.passage_rank(passages, None, ["2021"]) is None


def test_markdown_summary_of_the_hand_scored_set(rows: list[dict]) -> None:
    from assistant.eval_report import miss_reasons, to_markdown, worst_misses

    report = {"metrics": summarise(rows, ks=(1, 5)), "config": {"embedder": {"id": "x"}, "k": [1, 5],
              "answer": {"answer_passages": 3}}, "questions": rows,
              "by_language": {"arabic": summarise(rows[:1], (1, 5)), "other": summarise(rows[1:], (1, 5))}}
    assert miss_reasons(report) == {"abstained": 1, "answer not in top 3 passages": 0, "another sentence chosen": 0}
    assert [q["id"] for q in worst_misses(report)] == ["q4"]
    text = to_markdown(report)
    assert "| hit@1 | 0.667 | 0.000 | 1.000 |" in text
    assert "| q5 | When was the dam built? |" in text  # unanswerable but answered


def test_compare_prints_deltas_and_what_changed(rows: list[dict]) -> None:
    from assistant.eval_report import compare

    def report(rows: list[dict], embedder: str) -> dict:
        return {"metrics": summarise(rows, ks=(1,)), "by_language": {}, "questions": rows,
                "config": {"embedder": {"id": embedder}, "corpus": {"fingerprint": "f"}}}

    text = compare(report(rows[:2], "use-m3"), report(rows, "e5-small-q4"))
    lines = {line.split()[0]: line.split()[1:] for line in text.splitlines()}
    assert lines["questions"] == ["2", "5", "+3"]
    assert lines["hit@1"] == ["0.500", "0.667", "+0.167"]
    assert lines["latency_p50_ms"] == ["15.0", "30.0", "+15.0"]
    assert "note: the embedder differs (use-m3 -> e5-small-q4)." in text and "corpus differs" not in text
