"""The chat in a real browser: Debian's chromium driven by Playwright against `dalil serve` on loopback."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
# Offline: with background networking off, Chromium still looked up Google's hosts (autofill, accounts, updates);
# every name but loopback now resolves to nothing.
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--no-first-run", "--disable-sync",
               "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost"]
ENGLISH = "What guarantees did Washington offer Algeria?"
ARABIC = "ما هي الضمانات التي قدمتها واشنطن للجزائر؟"
EXPECTED = "ضمانات جادة وتأكيدات راسخة"
HOSTILE = ("Harbour lantern notice <script>alert(1)</script>\n\n"
           "The harbour lantern parade of Al-Waha starts at the lighthouse <img src=x onerror=alert(1)> at nine.\n"
           "Every fishing boat in the parade will carry a green lantern.\n")
BIDI_MARKS = dict.fromkeys(map(ord, "\u2066\u2067\u2068\u2069"))

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (scripts/test installs it)"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`dalil serve` on a free loopback port, with its own index built from the seeds on first start."""
    home = tmp_path_factory.mktemp("serve")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DALIL_")}
    env.update(HF_HUB_OFFLINE="1", HF_HUB_DISABLE_TELEMETRY="1", GRADIO_ANALYTICS_ENABLED="False")
    dalil = Path(sys.executable).parent / "dalil"
    log = open(home / "serve.log", "w")  # noqa: SIM115 - closed below, after the server stops
    process = subprocess.Popen([str(dalil), "serve", "--port", str(port), "--index-dir", str(home / "index")],
                               cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{url}/api/health", process, home / "serve.log")
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        log.close()


def wait_for(url: str, process: subprocess.Popen, log: Path, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"dalil serve exited: {log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"dalil serve did not start in {seconds} s: {log.read_text()}")


def api_answer(url: str, question: str) -> dict:
    request = urllib.request.Request(f"{url}/api/ask", data=json.dumps({"question": question}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as reply:
        return json.loads(reply.read())


def ask(page, question: str) -> object:
    """Type ``question``, press Enter, and return the new answer element once it is shown."""
    before = page.locator(".dalil-answer").count()
    box = page.locator("#dalil-question textarea")
    box.fill(question)
    box.press("Enter")
    page.wait_for_function(f"document.querySelectorAll('.dalil-answer').length > {before}", timeout=60_000)
    return page.locator(".dalil-answer").nth(before)


def direction(locator) -> str:
    return locator.evaluate("e => getComputedStyle(e).direction")


def test_chat_in_a_real_browser(server: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1100})
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.goto(server, wait_until="networkidle")
        try:
            check_seed_question(page, server)
            page.screenshot(path=str(tmp_path / "seed-question.png"))
            check_upload_is_shown_as_text(page, tmp_path)
            assert dialogs == [], f"article text ran as code: {dialogs}"
        finally:
            page.screenshot(path=str(tmp_path / "chat.png"), full_page=True)
            print(f"screenshot: {tmp_path / 'chat.png'}")
            browser.close()


def check_seed_question(page, server: str) -> None:
    english = ask(page, ENGLISH)
    arabic = ask(page, ARABIC)
    for question, answer in ((ENGLISH, english), (ARABIC, arabic)):
        expected = api_answer(server, question)
        paragraph = answer.locator("p.dalil-text")
        assert EXPECTED in paragraph.inner_text()
        markers = answer.locator("a.dalil-marker")
        assert markers.count() == len(expected["citations"]) >= 1
        assert [m.inner_text() for m in markers.all()] == [f"[{c['n']}]" for c in expected["citations"]]
        highlighted = [m.inner_text().translate(BIDI_MARKS) for m in answer.locator(".dalil-passage mark").all()]
        # A passage cited twice is shown once with both sentences marked, in the order they appear in it.
        assert sorted(highlighted) == sorted(c["text"][c["start"]:c["end"]] for c in expected["citations"])
        assert answer.locator(".dalil-passage").count() == len({c["text"] for c in expected["citations"]})
        # The Arabic answer and passages read right-to-left, aligned to their start, whatever the question.
        assert direction(paragraph) == "rtl" and direction(answer.locator(".dalil-passage .dalil-text").first) == "rtl"
        assert paragraph.evaluate("e => getComputedStyle(e).unicodeBidi") == "plaintext"
        # The passage's header line too: its "[1]" at the right end (it sat on the left, the title being isolated).
        meta = answer.locator(".dalil-passage .dalil-meta").first
        line, number = meta.bounding_box(), meta.locator(".dalil-num").bounding_box()
        assert number["x"] + number["width"] > line["x"] + 0.9 * line["width"], (line, number)
    # No copy button: it copied the message's HTML, not its text.
    assert page.locator("#dalil-chat [aria-label='Copy message'], #dalil-chat [title='Copy message']").count() == 0
    users = page.locator(".dalil-user")
    assert direction(users.nth(0)) == "ltr" and direction(users.nth(1)) == "rtl"
    assert users.nth(0).inner_text().strip() == ENGLISH
    # Clicking a marker brings its passage into view (and flashes it).
    last = arabic.locator(".dalil-passage").last
    arabic.locator("a.dalil-marker").last.click()
    page.wait_for_function("id => document.getElementById(id).classList.contains('flash')",
                           arg=last.get_attribute("id"), timeout=5_000)
    assert page.url.rstrip("/") == server  # the page did not navigate away


def check_upload_is_shown_as_text(page, tmp_path: Path) -> None:
    article = tmp_path / "lantern_notice.txt"
    article.write_text(HOSTILE, encoding="utf-8")
    page.get_by_role("tab", name="Articles").click()
    page.locator("#dalil-upload input[type=file]").set_input_files(str(article))
    page.wait_for_selector("#dalil-status [data-state=done]", timeout=60_000)
    assert "Added lantern_notice.txt" in page.locator("#dalil-status").inner_text()
    table = page.locator("#dalil-articles table")
    assert "Harbour lantern notice <script>alert(1)</script>" in table.inner_text()
    assert page.locator("#dalil-articles script, #dalil-articles img").count() == 0
    page.get_by_role("tab", name="Chat").click()
    answer = ask(page, "Where does the harbour lantern parade start?")
    text = answer.inner_text().translate(BIDI_MARKS)
    assert "lighthouse <img src=x onerror=alert(1)> at nine" in text
    assert "<script>alert(1)</script>" in text
    assert page.locator("#dalil-chat img[src=x], #dalil-chat script").count() == 0
    assert page.evaluate("() => document.querySelectorAll('img[onerror]').length") == 0


def test_gradio_client_gets_the_same_object_as_the_api(server: str) -> None:
    """The portal snippet in docs/web.md: gradio_client's /answer returns what POST /api/ask returns."""
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"  # gradio_client reads it in its own process
    from gradio_client import Client

    client = Client(server + "/", verbose=False, analytics_enabled=False)
    answer = client.predict(ARABIC, 5, api_name="/answer")  # k = 5, the API default
    expected = api_answer(server, ARABIC)
    assert EXPECTED in answer["answer"] and not answer["abstained"]
    assert answer["answer"] == expected["answer"]
    assert [(c["n"], c["start"], c["end"]) for c in answer["citations"]] == \
        [(c["n"], c["start"], c["end"]) for c in expected["citations"]]
