"""A real OpenAI-compatible server (vLLM, llama.cpp, Ollama's /v1, a hosted API), when one is given.

    DALIL_TEST_LLM_URL=http://127.0.0.1:8000/v1 DALIL_TEST_LLM_MODEL=qwen2.5-7b-instruct \\
        .venv/bin/python -m pytest tests/test_llm_live.py [DALIL_TEST_LLM_API_KEY=...]
"""

import os

import pytest
from llm_fakes import check_generated

from assistant.generation import Generator
from assistant.settings import Settings
from index.normalise import normalise

URL = os.environ.get("DALIL_TEST_LLM_URL")
pytestmark = pytest.mark.skipif(not URL, reason="DALIL_TEST_LLM_URL is not set: no real LLM server to test against "
                                                "(set it, and DALIL_TEST_LLM_MODEL, to run these)")


@pytest.fixture(scope="module")
def generator() -> Generator:
    settings = Settings(llm="openai-like", llm_url=URL, llm_model=os.environ.get("DALIL_TEST_LLM_MODEL", "default"),
                        llm_api_key=os.environ.get("DALIL_TEST_LLM_API_KEY"), llm_timeout=120)
    return Generator.from_settings(settings)


@pytest.mark.parametrize(
    ("question", "expected"),
    [("What caused the fire in the Karam library?", "electrical"),
     ("كم سريرا في مستشفى الأطفال الجديد؟", "120")],
)
def test_a_real_model_answers_with_valid_citations(fixture_assistant, generator, question: str,
                                                   expected: str) -> None:
    answer = generator.answer(fixture_assistant, question)
    assert answer.notice is None or answer.generated, answer.notice  # a fallback is a failure here
    check_generated(answer)
    assert normalise(expected) in normalise(answer.answer)
    assert any(normalise(expected) in normalise(c.text) for c in answer.citations)


def test_a_real_model_rewrites_a_follow_up(fixture_assistant, generator) -> None:
    history = [("Which company won the port construction tender in Al-Waha?", "Blue Sea company [1].")]
    answer = generator.answer(fixture_assistant, "And how much will the expansion cost?", history=history)
    assert answer.rewritten_question and "port" in answer.rewritten_question.lower()
    assert answer.generated, answer.notice  # a fallback is a failure here too
    assert "8.8" in answer.answer
