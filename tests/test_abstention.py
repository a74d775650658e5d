"""Abstention with the default deep layer (e5): questions the fixture articles never touch are not answered."""

import pytest

from assistant.qa import Assistant
from assistant.settings import Settings
from index.build import build_index
from index.embedding import load_embedder
from index.normalise import normalise
from index.store import load_index
from tests.conftest import ARTICLES


@pytest.fixture(scope="module")
def deep_assistant(tmp_path_factory: pytest.TempPathFactory, use_embedder) -> Assistant:
    """The fixture articles indexed as `dalil index` does by default: USE, with the e5 deep layer filled."""
    index_dir = tmp_path_factory.mktemp("deep-fixture-index")
    e5 = load_embedder("e5")
    build_index([ARTICLES], index_dir, use_embedder, deep_embedder=e5)
    return Assistant(load_index(index_dir), use_embedder, Settings(index_dir=index_dir), e5)


@pytest.mark.parametrize("question", [
    "كيف أخبز الخبز؟",  # how do I bake bread?
    "ما لون السماء؟",  # what colour is the sky?
    "ما هو أطول نهر في العالم؟",  # what is the longest river in the world?
])
def test_an_arabic_question_on_another_topic_abstains(deep_assistant: Assistant, question: str) -> None:
    # Its words are nowhere in the articles; it must be held to the same-language threshold all the same
    # (it was held to the lower cross-language one, and answered with the closest sentence).
    answer = deep_assistant.answer(question)
    assert answer.abstained, answer.answer


@pytest.mark.parametrize(("question", "expected"), [
    ("ما سبب وفرة محصول الزيتون في قرية السنابل؟", "الأمطار الغزيرة"),
    ("كم فرصة عمل ستوفرها توسعة الميناء؟", "1200 فرصة عمل"),
    ("How much will the port expansion in Al-Waha cost?", "8.8 مليون دينار"),
])
def test_questions_the_articles_answer_are_still_answered(deep_assistant: Assistant, question: str,
                                                          expected: str) -> None:
    answer = deep_assistant.answer(question)
    assert not answer.abstained and normalise(expected) in normalise(answer.answer), answer.answer
