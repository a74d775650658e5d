"""Generated answers over real HTTP: llama-index's OpenAILike client against an OpenAI-compatible fake server on
loopback (streamed SSE chunks), an unreachable port, a slow server, the SSE API and the CLI."""

import json
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from llm_fakes import FakeOpenAIServer, check_generated, library_with

from assistant.cli import main
from assistant.generation import Generator
from assistant.settings import Settings

FIRE = "What caused the fire in the Karam library?"


def generator_for(url: str, timeout: float = 10.0) -> Generator:
    generator = Generator.from_settings(Settings(llm="openai-like", llm_url=url, llm_model="fake-model",
                                                 llm_timeout=timeout))
    assert generator is not None
    return generator


def fault_number(assistant) -> int:
    return next(n for n, hit in enumerate(assistant.answer(FIRE).hits, start=1) if "electrical fault" in hit.chunk.text)


def test_openai_like_streams_through_the_real_client(fixture_assistant) -> None:
    n = fault_number(fixture_assistant)
    tokens = ["An electrical ", "fault caused ", "the fire [", str(n), "]", "[", "12", "]."]
    with FakeOpenAIServer([tokens]) as server:
        events = list(generator_for(server.url).stream(fixture_assistant, FIRE))
    answer = events[-1].answer
    assert answer.generated and answer.answer == "An electrical fault caused the fire [1]."
    assert "".join(e.text for e in events if e.kind == "delta") == "An electrical fault caused the fire [1]."
    assert answer.notice == "Removed [12]: the model cited passages that were not retrieved."
    assert "electrical fault" in answer.citations[0].sentence
    check_generated(answer)
    request = server.requests[0]
    assert request["stream"] is True and request["model"] == "fake-model"
    assert [m["role"] for m in request["messages"]] == ["system", "user"]
    assert answer.llm == "openai-like:fake-model" and answer.timings_ms["first_token_ms"] > 0


def test_ollama_streams_through_its_own_client(fixture_assistant) -> None:
    n = fault_number(fixture_assistant)
    with FakeOpenAIServer([["An electrical fault caused ", "the fire [", str(n), "]."]]) as server:
        generator = Generator.from_settings(Settings(llm="ollama:fake-model", llm_url=server.root))
        answer = generator.answer(fixture_assistant, FIRE)
    assert answer.generated and answer.answer == "An electrical fault caused the fire [1]."
    assert answer.llm == "ollama:fake-model" and "electrical fault" in answer.citations[0].sentence
    assert server.requests[0]["model"] == "fake-model" and server.requests[0]["stream"] is True


def test_an_unreachable_server_gives_the_extractive_answer_at_once(fixture_assistant) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    answer = generator_for(f"http://127.0.0.1:{port}/v1").answer(fixture_assistant, FIRE)
    assert not answer.generated and answer.answer == fixture_assistant.answer(FIRE).answer
    assert answer.notice.startswith(f"The LLM at http://127.0.0.1:{port}/v1 could not be reached")


def test_a_slow_server_times_out_into_the_extractive_answer(fixture_assistant) -> None:
    with FakeOpenAIServer([["The ", "fire ", "[1]."]], delay=3.0) as server:
        answer = generator_for(server.url, timeout=0.5).answer(fixture_assistant, FIRE)
        assert not server.spoke.is_set()  # the answer came before the server's first token (3 s), not after
    assert server.accepted == 1  # given up, not retried
    assert not answer.generated
    assert answer.notice == (f"The LLM at {server.url} did not answer within 0.5 s. "
                             "The extracted answer is shown instead.")


def test_an_http_error_is_a_notice(fixture_assistant) -> None:
    with FakeOpenAIServer([]) as server:  # no reply scripted: the server answers 404
        answer = generator_for(server.url).answer(fixture_assistant, FIRE)
    assert not answer.generated
    assert answer.notice == (f"The LLM at {server.url} answered HTTP 404 (The model `fake-model` does not exist.). "
                             "The extracted answer is shown instead.")


def read_events(body: str) -> list[tuple[str, dict]]:
    """Server-sent events as (event, data) pairs."""
    events = []
    for block in body.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


@pytest.fixture(scope="module")
def api(fixture_assistant, tmp_path_factory: pytest.TempPathFactory):
    """An API client whose library writes answers with the fake server; yields (client, server)."""
    from ui.server import create_app

    with FakeOpenAIServer([]) as server:
        uploads = tmp_path_factory.mktemp("uploads")
        settings = fixture_assistant.settings.model_copy(update={"upload_dir": uploads})
        yield TestClient(create_app(library_with(fixture_assistant, generator_for(server.url), settings))), server


def test_the_api_streams_server_sent_events_with_citations_last(api, fixture_assistant) -> None:
    client, server = api
    server.replies.append(["An electrical fault [", str(fault_number(fixture_assistant)), "] caused it."])
    reply = client.post("/api/ask?stream=true", json={"question": FIRE})
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/event-stream")
    events = read_events(reply.text)
    kinds = [kind for kind, _ in events]
    assert kinds[-1] == "final" and set(kinds[:-1]) == {"delta"}
    assert all("citations" not in data for _, data in events[:-1])
    final = events[-1][1]
    assert "".join(data["text"] for _, data in events[:-1]) == final["answer"] == "An electrical fault [1] caused it."
    assert final["generated"] is True and final["citations"][0]["n"] == 1
    assert client.get("/api/health").json()["llm"] == "openai-like:fake-model"


def test_the_api_rewrites_a_follow_up_and_refuses_a_bad_question(api) -> None:
    client, server = api
    server.replies += [["How much will the port expansion in Al-Waha cost?"], ["It will cost 8.8 million [1]."]]
    history = [{"question": "Who won the port tender in Al-Waha?", "answer": "Blue Sea company [1]."}]
    reply = client.post("/api/ask", json={"question": "and what will it cost?", "history": history})
    data = reply.json()
    assert data["rewritten_question"] == "How much will the port expansion in Al-Waha cost?"
    assert data["question"] == "and what will it cost?" and "Blue Sea company" in json.dumps(server.requests[-2])
    bad = client.post("/api/ask?stream=true", json={"question": " "})
    assert bad.status_code == 400 and bad.json()["type"] == "QuestionError"


def test_dalil_ask_with_an_llm(fixture_index: Path, fixture_assistant) -> None:
    with FakeOpenAIServer([["An electrical fault [", str(fault_number(fixture_assistant)), "]."]]) as server:
        result = CliRunner().invoke(main, ["ask", FIRE, "--index-dir", str(fixture_index), "--llm", "openai-like",
                                           "--llm-url", server.url, "--llm-model", "fake-model"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "An electrical fault [1]."  # streamed, not printed twice
    assert lines[2].startswith("[1] Fire damages the old library in Karam (library_fire.md)")


def test_dalil_ask_with_a_bad_llm_setting_is_one_line(fixture_index: Path) -> None:
    result = CliRunner().invoke(main, ["ask", FIRE, "--index-dir", str(fixture_index), "--llm", "openai-like"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "dalil: --llm openai-like needs --llm-url and --llm-model. Give for example "
        "--llm-url http://127.0.0.1:8000/v1 --llm-model qwen2.5-7b-instruct."]


def test_the_chat_streams_and_rewrites_follow_ups(fixture_assistant) -> None:
    from llm_fakes import scripted

    from ui.chat_stream import respond_stream

    n = fault_number(fixture_assistant)
    generator = scripted(["An electrical ", "fault [", str(n), "]."],
                         "What caused the fire in the Karam library <b>?</b>", [f"A fault [{n}]."])
    library = library_with(fixture_assistant, generator)
    # The last message as each step showed it (the step's list is updated in place afterwards).
    steps = [(history[-1]["content"], history, turns) for _, history, turns in respond_stream(library, FIRE, [], [])]
    shown = [content for content, _, _ in steps]
    assert "dalil-cursor" in shown[1] and "An electrical " in shown[1] and "[1]" not in shown[1]
    assert 'class="dalil-marker"' in shown[-1] and "<mark>" in shown[-1]
    _, history, turns = steps[-1]
    assert turns == [(FIRE, "An electrical fault [1].")]
    *_, (_, history, turns) = respond_stream(library, "and why?", history, turns)
    assert "Searched for: What caused the fire in the Karam library &lt;b&gt;?&lt;/b&gt;" in history[-1]["content"]
    assert len(history) == 4 and len(turns) == 2


def test_dalil_eval_scores_the_generated_answers(fixture_index: Path, fixture_assistant, tmp_path: Path) -> None:
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps({"id": "fire", "question": FIRE, "answers": ["electrical fault"]}) + "\n"
                    + json.dumps({"id": "cost", "question": "How much will the port expansion in Al-Waha cost?",
                                  "answers": ["8.8"]}) + "\n", encoding="utf-8")
    n = fault_number(fixture_assistant)
    replies = [["An electrical fault [", str(n), "]."], ["It will cost a lot."]]  # the second cites nothing
    with FakeOpenAIServer(replies) as server:
        result = CliRunner().invoke(main, ["eval", "--gold", str(gold), "--index-dir", str(fixture_index),
                                           "--out", str(tmp_path / "report.json"), "--llm", "openai-like",
                                           "--llm-url", server.url, "--llm-model", "fake-model"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert report["config"]["llm"] == "openai-like:fake-model"
    rows = {row["id"]: row for row in report["questions"]}
    fire, cost = rows["fire"], rows["cost"]
    assert fire["generated"] and fire["answer"] == "An electrical fault [1]." and fire["answer_hit"]
    assert not cost["generated"] and "cited none" in cost["notice"]
    assert cost["answer_hit"]  # the extractive answer it fell back to holds 8.8
    assert report["notes"][-1] == ("LLM: 1 of 2 answers generated; fell back: 1× The model's answer cited none "
                                   "of the passages")
