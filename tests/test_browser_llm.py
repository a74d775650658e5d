"""The chat with an LLM in a real browser: `dalil serve --llm openai-like` against the loopback fake server;
the answer streams in (partial text with a cursor, never half a marker), then links its markers; a follow-up
is rewritten and the rewritten question is shown."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from llm_fakes import FakeOpenAIServer
from test_browser import CHROMIUM, LAUNCH_ARGS, free_port, wait_for

from tests.conftest import ARTICLES

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (scripts/test installs it)"),
]
FIRE = "What caused the fire in the Karam library?"
REPLY = ["Investigators ", "believe an ", "electrical ", "fault caused ", "the fire [", "2", "]. About ", "3,000 ",
         "books burned [", "1", "]."]


def test_streamed_chat_and_follow_up(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    rewrite = ["How many books did the fire in the Karam library destroy?"]
    replies = [REPLY, rewrite, ["About 3,000 books [1]."], ["Books burned [1]."]]
    with FakeOpenAIServer(replies, delay=0.15) as llm:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("DALIL_")}
        env.update(HF_HUB_OFFLINE="1", HF_HUB_DISABLE_TELEMETRY="1", GRADIO_ANALYTICS_ENABLED="False")
        log = open(tmp_path / "serve.log", "w")  # noqa: SIM115 - closed below, after the server stops
        dalil = Path(sys.executable).parent / "dalil"
        subprocess.run([str(dalil), "index", str(ARTICLES), "--index-dir", str(tmp_path / "index")], env=env,
                       check=True, capture_output=True)
        process = subprocess.Popen([str(dalil), "serve", "--port", str(port), "--index-dir", str(tmp_path / "index"),
                                    "--llm", "openai-like", "--llm-url", llm.url, "--llm-model", "fake"],
                                   env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for(f"{url}/api/health", process, tmp_path / "serve.log")
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
                page = browser.new_page()
                page.goto(url)
                page.wait_for_selector("#dalil-question textarea", timeout=60_000)
                partials = ask_and_watch(page, FIRE)
                assert any("Investigators" in p and "[" not in p for p in partials), partials
                assert all(p.count("[") == p.count("]") for p in partials), partials  # never half a marker
                answer = page.locator(".dalil-answer").last
                assert [m.inner_text() for m in answer.locator("a.dalil-marker").all()] == ["[1]", "[2]"]
                assert answer.locator(".dalil-passage mark").count() >= 1  # each citation highlights a sentence
                ask_and_watch(page, "and how many books?")
                follow_up = page.locator(".dalil-answer").last
                assert "Searched for: How many books did the fire" in follow_up.inner_text()
                assert follow_up.locator("a.dalil-marker").count() == 1
                page.locator("#dalil-chat").get_by_label("Clear").click()  # a new conversation: no rewrite
                page.wait_for_function("document.querySelectorAll('.dalil-answer').length == 0")
                ask_and_watch(page, "and how many books?")
                assert "Searched for" not in page.locator(".dalil-answer").last.inner_text()
                assert len(llm.requests) == 4
                browser.close()
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
            log.close()


def ask_and_watch(page, question: str) -> list[str]:
    """Ask, and return the answer's text as seen while it streamed, until its markers are links."""
    before = page.locator("a.dalil-marker").count()
    box = page.locator("#dalil-question textarea")
    box.fill(question)
    box.press("Enter")
    seen: list[str] = []
    deadline = time.monotonic() + 60
    while page.locator("a.dalil-marker").count() <= before and time.monotonic() < deadline:
        # Read in one step: the streaming element is replaced as the answer completes.
        seen += page.evaluate("() => [...document.querySelectorAll('.dalil-answer.streaming')].map(e => e.innerText)")
        time.sleep(0.05)
    assert page.locator("a.dalil-marker").count() > before, "the answer never got its links"
    return seen
