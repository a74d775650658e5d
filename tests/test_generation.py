"""Generated answers with a scripted LLM over the fixture articles: citations, fallbacks, follow-ups, settings."""

import subprocess
import sys

import pytest
from llm_fakes import check_generated, scripted

from assistant.generation import GeneratingAssistant
from assistant.llm import llm_spec
from assistant.prompts import NOT_FOUND
from assistant.qa import Assistant
from assistant.settings import Settings
from index.errors import ConfigError, QuestionError
from index.normalise import normalise

FIRE = "What caused the fire in the Karam library?"


def number_of(assistant, question: str, words: str) -> int:
    """The number the prompt gives the passage holding ``words`` (passages are numbered in retrieval order)."""
    hits = assistant.answer(question).hits
    return next(n for n, hit in enumerate(hits, start=1) if words in hit.chunk.text)


def test_a_generated_answer_cites_the_sentence_that_supports_each_claim(fixture_assistant) -> None:
    fault, books = number_of(fixture_assistant, FIRE, "electrical fault"), number_of(fixture_assistant, FIRE, "3,000")
    assert fault != books
    generator = scripted(["Investigators believe an electrical fault caused the fire [", str(fault), "]. About 3,000 ",
                          f"books were destroyed [{books}", "]."])
    events = list(generator.stream(fixture_assistant, FIRE))
    answer = events[-1].answer
    assert [e.kind for e in events][-1] == "final" and answer.generated and answer.notice is None
    assert "".join(e.text for e in events if e.kind == "delta") == answer.answer  # streamed = final text
    check_generated(answer)
    # Shown as [1] and [2] (in order of first citation), each highlighting the sentence that supports its claim.
    assert answer.answer == "Investigators believe an electrical fault caused the fire [1]. About 3,000 books " \
                            "were destroyed [2]."
    by_n = {c.n: c for c in answer.citations}
    assert "electrical fault" in by_n[1].sentence and "3,000 books" in by_n[2].sentence
    from llama_index.core import Settings as LlamaSettings

    assert LlamaSettings._llm is None  # the LLM is passed explicitly; llama-index's global one is never set


def test_the_prompt_numbers_the_passages_and_asks_for_the_question_language(fixture_assistant) -> None:
    question = "ما سبب وفرة محصول الزيتون في قرية السنابل؟"
    rain = number_of(fixture_assistant, question, "الأمطار الغزيرة")
    generator = scripted(f"الأمطار الغزيرة في الربيع هي سبب وفرة المحصول [{rain}].")
    answer = generator.answer(fixture_assistant, question)
    prompt = generator.llm.prompts[0]
    assert "[1] " in prompt and "[5] " in prompt and "[6] " not in prompt
    assert "Arabic" in prompt and NOT_FOUND["ar"] in prompt
    assert answer.generated and normalise("الأمطار الغزيرة") in normalise(answer.citations[0].sentence)


@pytest.mark.parametrize(
    ("reply", "notice"),
    [
        ("The fire was caused by an electrical fault.", "cited none of the passages"),
        ("The fire was caused by an electrical fault [9]. It burned [7].", "not retrieved ([9], [7])"),
        ("", "empty answer"),
        ("كان سبب الحريق عطلا كهربائيا في قاعة المطالعة حسب المحققين [1].", "did not answer in English"),
    ],
)
def test_an_unusable_reply_gives_the_extractive_answer_and_says_why(fixture_assistant, reply: str,
                                                                     notice: str) -> None:
    answer = scripted(reply).answer(fixture_assistant, FIRE)
    extractive = fixture_assistant.answer(FIRE)
    assert not answer.generated and notice in answer.notice
    assert answer.answer == extractive.answer and answer.citations == extractive.citations
    data = answer.to_json()
    assert data["generated"] is False and data["notice"] == answer.notice and data["llm"] == "scripted:fake"


def test_an_invented_marker_beside_valid_ones_is_removed_and_noted(fixture_assistant) -> None:
    answer = scripted("An electrical fault caused it [2][8].").answer(fixture_assistant, FIRE)
    assert answer.generated and answer.answer == "An electrical fault caused it [1]."
    assert answer.notice == "Removed [8]: the model cited passages that were not retrieved."
    check_generated(answer)


def test_the_not_found_phrase_abstains_listing_the_closest_passages(fixture_assistant) -> None:
    answer = scripted(NOT_FOUND["en"]).answer(fixture_assistant, "Who won the football cup in Karam?")
    assert answer.abstained and answer.generated and answer.notice is None
    assert answer.answer.startswith(NOT_FOUND["en"]) and answer.markers() == [1, 2, 3]
    check_generated(answer)


def test_a_failing_or_slow_llm_gives_the_extractive_answer_in_time(fixture_assistant) -> None:
    broken = scripted(["The fire ", ConnectionError("Connection refused")])
    answer = broken.answer(fixture_assistant, FIRE)
    assert not answer.generated and "could not be reached (Connection refused)" in answer.notice
    slow = scripted(["The ", "fire ", "was ", "caused ", "by ", "a fault [1]."], timeout=0.5, delay=0.3)
    answer = slow.answer(fixture_assistant, FIRE)
    assert slow.llm.streamed < 6  # the answer came before the model's last token (1.8 s), not after it
    assert not answer.generated and answer.notice.startswith("The LLM at scripted did not answer within 0.5 s.")
    assert answer.answer == fixture_assistant.answer(FIRE).answer


def test_a_follow_up_is_rewritten_with_the_history_before_retrieval(fixture_assistant) -> None:
    generator = scripted("Question: How much will the port expansion in Al-Waha cost?",
                         "The expansion will cost 8.8 million dinars [1].")
    history = [("Which company won the port construction tender in Al-Waha?", "Blue Sea company [1].")]
    events = list(generator.stream(fixture_assistant, "and how much will it cost?", history=history))
    assert events[0].kind == "question" and events[0].text == "How much will the port expansion in Al-Waha cost?"
    answer = events[-1].answer
    assert answer.question == "and how much will it cost?"
    assert answer.rewritten_question == "How much will the port expansion in Al-Waha cost?"
    assert "Blue Sea company" in generator.llm.prompts[0] and "and how much will it cost?" in generator.llm.prompts[0]
    assert "Al-Waha cost?" in generator.llm.prompts[1]  # the answer prompt carries the rewritten question
    assert any("8.8" in c.sentence for c in answer.citations) and "rewrite_ms" in answer.timings_ms


def test_a_bad_question_is_refused_before_the_llm_is_asked(fixture_assistant) -> None:
    generator = scripted("unused")
    with pytest.raises(QuestionError):
        next(generator.stream(fixture_assistant, "   "))
    assert generator.llm.prompts == []


def test_eval_wraps_the_assistant(fixture_assistant) -> None:
    wrapped = GeneratingAssistant(fixture_assistant, scripted("An electrical fault [1]."))
    assert wrapped.answer(FIRE).generated and wrapped.index is fixture_assistant.index


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"llm": "openai-like"}, "needs --llm-url and --llm-model"),
        ({"llm": "openai-like", "llm_url": "127.0.0.1:8000", "llm_model": "m"}, "is not an http"),
        ({"llm": "gpt-4"}, "is not an LLM Dalil knows"),
        ({"llm": "ollama:"}, "is not an LLM Dalil knows"),
    ],
)
def test_llm_settings_are_checked(values: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        llm_spec(Settings(**values))


def test_llm_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DALIL_LLM", "openai-like")
    monkeypatch.setenv("DALIL_LLM_URL", "http://127.0.0.1:8000")
    monkeypatch.setenv("DALIL_LLM_MODEL", "qwen")
    monkeypatch.setenv("DALIL_LLM_TIMEOUT", "7.5")
    spec = llm_spec(Settings.load())
    assert (spec.kind, spec.url, spec.model, spec.timeout) == ("openai-like", "http://127.0.0.1:8000/v1", "qwen", 7.5)
    monkeypatch.delenv("DALIL_LLM_URL")
    assert llm_spec(Settings.load(llm="ollama:qwen2.5:3b")).url == "http://127.0.0.1:11434"
    assert llm_spec(Settings.load(llm="none")) is None


def test_no_llm_configured_imports_no_llm_integration() -> None:
    code = ("import sys; from assistant.generation import Generator; from assistant.settings import Settings\n"
            "assert Generator.from_settings(Settings()) is None\n"
            "from llama_index.core import Settings as LlamaSettings\n"
            "assert LlamaSettings._llm is None  # llama-index's global LLM is never resolved (it would be OpenAI)\n"
            "print(sorted(m for m in sys.modules if m.startswith(('llama_index.llms.', 'openai', 'ollama'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_citations_use_the_deep_layer_when_the_index_has_one(tmp_path, use_embedder, monkeypatch) -> None:
    from assistant import answering
    from index.build import build_index
    from index.store import load_index
    from tests.conftest import ARTICLES
    from tests.test_build import CountingEmbedding

    deep = CountingEmbedding(inner=use_embedder, model_name="deep-test", dim=use_embedder.dim)
    build_index([ARTICLES], tmp_path / "index", use_embedder, deep_embedder=deep)
    assistant = Assistant(load_index(tmp_path / "index"), use_embedder, Settings(index_dir=tmp_path / "index"),
                          deep_embedder=deep)
    n = number_of(assistant, FIRE, "electrical fault")
    calls = []
    rank = answering.rank_sentences

    def spy(question, hits, embedder, vector, coverage, deep_layer=None, deep_vector=None, sentences=None,
            matching=None):
        calls.append((question, deep_layer, deep_vector))
        return rank(question, hits, embedder, vector, coverage, deep_layer, deep_vector, sentences, matching)

    monkeypatch.setattr(answering, "rank_sentences", spy)
    answer = scripted(f"Investigators blamed an electrical fault [{n}].").answer(assistant, FIRE)
    assert answer.generated and "electrical fault" in answer.citations[0].sentence
    claim = [c for c in calls if c[0] == "Investigators blamed an electrical fault"]
    assert claim and claim[0][1] is assistant.index.deep and claim[0][2] is not None
