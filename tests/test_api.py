"""The HTTP API in-process (FastAPI TestClient) on real indexes of the fixture articles."""

import json
import re
import shutil
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assistant.qa import Assistant
from assistant.settings import Settings
from index.build import build_index
from index.store import load_index, read_manifest
from tests.conftest import ARTICLES
from tests.test_dictionary import ENTRIES, write_dictd
from ui.library import CLAIM

SERVER_VARS = ("DALIL_API_TOKEN", "DALIL_CORS_ORIGINS", "DALIL_UPLOAD_DIR", "DALIL_MAX_UPLOAD_BYTES",
               "DALIL_HOST", "DALIL_PORT")
PORT_QUESTION = "How much will the port expansion in Al-Waha cost?"
FESTIVAL = ("Lantern festival in Al-Waha\n\nThe lantern festival of Al-Waha will open on Thursday evening at the old "
            "fish market.\nThe organisers said that four thousand paper lanterns were made by local schools.\n")


@pytest.fixture(autouse=True)
def no_server_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SERVER_VARS:
        monkeypatch.delenv(name, raising=False)


def make_client(index_dir: Path, embedder, **settings) -> TestClient:
    from ui.server import create_app

    config = Settings(index_dir=index_dir, **settings)
    return TestClient(create_app(Assistant(load_index(index_dir), embedder, config), config))


@pytest.fixture(scope="module")
def client(fixture_index: Path, use_embedder, tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    """Read-only client over the shared fixture index (its uploads folder is a temp folder)."""
    return make_client(fixture_index, use_embedder, upload_dir=tmp_path_factory.mktemp("unused-uploads"))


@pytest.fixture()
def writable(fixture_index: Path, use_embedder, tmp_path: Path) -> TestClient:
    """A client over a private copy of the fixture index, for uploads and removals."""
    copy = tmp_path / "index"
    shutil.copytree(fixture_index, copy, symlinks=True)
    return make_client(copy, use_embedder)


def test_ask_returns_the_cli_json_object(client: TestClient, fixture_assistant: Assistant) -> None:
    reply = client.post("/api/ask", json={"question": PORT_QUESTION, "k": 3})
    assert reply.status_code == 200, reply.text
    data = reply.json()
    expected = fixture_assistant.answer(PORT_QUESTION, 3).to_json()
    assert data.keys() == expected.keys()
    assert {k: v for k, v in data.items() if k != "timings_ms"} == {k: v for k, v in expected.items()
                                                                    if k != "timings_ms"}
    assert "8.8 مليون دينار" in data["answer"] and not data["abstained"]
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", data["answer"])}
    assert markers and markers <= {c["n"] for c in data["citations"]}
    first = data["citations"][0]
    assert first["text"][first["start"]:first["end"]] in data["answer"]


def test_arabic_question(client: TestClient) -> None:
    data = client.post("/api/ask", json={"question": "متى ستبدأ أشغال توسعة الميناء؟"}).json()
    assert "مارس" in data["answer"]


@pytest.mark.parametrize(
    ("kwargs", "status", "message"),
    [
        ({"json": {"question": ""}}, 400, "The question is empty"),
        ({"json": {"question": "   "}}, 400, "The question is empty"),
        ({"json": {"question": "x" * 100_000}}, 400, "the limit is 2,000"),
        ({"content": b'{"question": "unfinished', "headers": {"Content-Type": "application/json"}}, 400,
         "not valid JSON"),
        ({"content": b"What guarantees?", "headers": {"Content-Type": "text/plain"}}, 415, "Send the question as JSON"),
        ({"json": {}}, 422, "question: Field required"),
        ({"json": {"question": "Who?", "k": 0}}, 422, "k: Input should be greater than or equal to 1"),
        ({"json": {"question": "Who?", "colour": "red"}}, 422, "colour: Extra inputs are not permitted"),
        ({"json": {"question": "Who?", "k": True}}, 422, "k: Input should be a valid integer"),  # not k=1
        ({"content": b'{"question": "\xff\xfe"}', "headers": {"Content-Type": "application/json"}}, 400,
         "send JSON in UTF-8"),
        ({"json": {"question": "\u0000\u200b"}}, 400, "The question is empty"),  # nothing visible in it
        ({"json": ["a list"]}, 422, "Invalid request"),
        ({"content": b"x" * 1_100_000, "headers": {"Content-Type": "application/json"}}, 413, "over 1,000,000 bytes"),
    ],
)
def test_bad_questions_get_a_clear_4xx(client: TestClient, kwargs: dict, status: int, message: str) -> None:
    reply = client.post("/api/ask", **kwargs)
    assert reply.status_code == status, reply.text
    assert message in reply.json()["error"]
    assert client.get("/api/health").status_code == 200  # and the server keeps serving


def test_health_articles_and_docs(client: TestClient, fixture_index: Path) -> None:
    manifest = read_manifest(fixture_index)
    health = client.get("/api/health").json()
    assert health["index_loaded"] and health["embedder"]["id"] == "use-m3"
    assert (health["articles"], health["passages"]) == (manifest["counts"]["articles"], manifest["counts"]["passages"])
    rows = client.get("/api/articles").json()["articles"]
    assert len(rows) == manifest["counts"]["articles"] == 5
    assert {"port_expansion.txt", "library_fire.md", "world/briefs.jsonl"} <= {r["source"] for r in rows}
    assert all(r["title"] and r["passages"] > 0 and r["added_at"] and not r["uploaded"] for r in rows)
    assert client.get("/docs").status_code == 200
    assert "/api/ask" in client.get("/openapi.json").json()["paths"]
    missing = client.get("/api/nothing-here")
    assert missing.status_code == 404 and "No API route /api/nothing-here" in missing.json()["error"]
    # A route asked with the wrong method says which methods it takes, instead of "no such route".
    wrong = client.get("/api/ask")
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST", wrong.text
    assert wrong.json() == {"error": "/api/ask takes POST, not GET.", "type": "HTTPError"}
    assert client.put("/api/articles/x.txt").headers["allow"] == "DELETE"
    assert client.post("/api/health").status_code == 405


def stored_files(uploads: Path) -> list[str]:
    """What the uploads folder holds, but for the running server's claim on it."""
    return sorted(p.name for p in uploads.iterdir() if p.name != CLAIM) if uploads.exists() else []


def upload(client: TestClient, name: str, data: bytes, wait: bool = True):
    return client.post("/api/articles", params={"wait": wait}, files={"file": (name, data, "text/plain")})


def test_upload_ask_and_remove(writable: TestClient) -> None:
    before = writable.get("/api/health").json()
    reply = upload(writable, "lanterns.txt", FESTIVAL.encode())
    assert reply.status_code == 202 and reply.json()["state"] == "done", reply.text
    assert writable.get("/api/health").json()["articles"] == before["articles"] + 1
    row = next(r for r in writable.get("/api/articles").json()["articles"] if r["source"] == "lanterns.txt")
    assert row["uploaded"] and row["title"] == "Lantern festival in Al-Waha"
    answer = writable.post("/api/ask", json={"question": "How many paper lanterns were made?"}).json()
    assert "four thousand paper lanterns" in answer["answer"]
    assert answer["citations"][0]["source"] == "lanterns.txt"
    removed = writable.delete(f"/api/articles/{row['id']}", params={"wait": True})
    assert removed.status_code == 202 and removed.json()["state"] == "done", removed.text
    assert writable.get("/api/health").json()["articles"] == before["articles"]
    assert not any(r["source"] == "lanterns.txt" for r in writable.get("/api/articles").json()["articles"])
    assert writable.delete("/api/articles/lanterns.txt").status_code == 404
    refused = writable.delete("/api/articles/port_expansion.txt")
    assert refused.status_code == 409 and "not uploaded here" in refused.json()["error"]


def test_an_upload_named_like_a_corpus_file_is_its_own_article(writable: TestClient) -> None:
    # It shared the corpus file's article id, and DELETE found the corpus file first (409, not uploaded here).
    reply = upload(writable, "library_fire.md", FESTIVAL.encode())
    assert reply.status_code == 202 and reply.json()["state"] == "done", reply.text
    rows = [r for r in writable.get("/api/articles").json()["articles"] if r["source"].endswith("library_fire.md")]
    assert len(rows) == 2 and len({r["id"] for r in rows}) == 2
    uploaded = next(r for r in rows if r["uploaded"])
    assert uploaded["source"] != "library_fire.md" and uploaded["source"].endswith("/library_fire.md")
    removed = writable.delete("/api/articles/library_fire.md", params={"wait": True})
    assert removed.status_code == 202 and removed.json()["state"] == "done", removed.text
    rows = [r for r in writable.get("/api/articles").json()["articles"] if r["source"].endswith("library_fire.md")]
    assert [(r["source"], r["uploaded"]) for r in rows] == [("library_fire.md", False)]


def test_an_uploads_folder_that_cannot_be_written_gets_a_clear_503(fixture_index: Path, use_embedder,
                                                                   tmp_path: Path) -> None:
    not_a_folder = tmp_path / "uploads"
    not_a_folder.write_text("a file where the uploads folder should be", encoding="utf-8")
    client = make_client(fixture_index, use_embedder, upload_dir=not_a_folder)
    reply = upload(client, "lanterns.txt", FESTIVAL.encode())
    assert reply.status_code == 503, reply.text
    assert reply.json() == {"error": f"The server cannot store uploads in {not_a_folder}: it is a file. Set "
                                     "DALIL_UPLOAD_DIR to a folder the server can write to, and restart it.",
                            "type": "UploadFolderError"}


@pytest.mark.parametrize(("name", "stored"), [("../../etc/passwd.txt", "passwd.txt"), ("..\\x.txt", "x.txt"),
                                               (".hidden.md", "hidden.md"), ("خبر عاجل!.TXT", "خبر_عاجل.txt")])
def test_upload_names_are_made_safe(writable: TestClient, name: str, stored: str) -> None:
    reply = upload(writable, name, FESTIVAL.encode())
    assert reply.status_code == 202 and reply.json()["file"] == stored, reply.text
    uploads = writable.app.state.library.uploads
    assert (uploads / stored).is_file()
    assert stored_files(uploads) == [stored]


@pytest.mark.parametrize(
    ("name", "data", "status", "message"),
    [
        ("../../etc/passwd", b"root:x:0:0", 415, "not an article file"),
        ("notes.pdf", b"%PDF-1.4", 415, "not an article file"),
        ("empty.txt", b"", 422, "'empty.txt': the file is empty"),
        ("blank.md", b"  \n\n ", 422, "'blank.md'"),
        ("binary.txt", bytes(range(256)) * 2, 422, "'binary.txt'"),
        ("latin1.txt", "café crème brûlée".encode("latin-1"), 422, "latin1.txt"),
        ("big.txt", b"word " * 300, 413, "upload limit is 1,000 bytes"),
    ],
)
def test_bad_uploads_are_refused_and_change_nothing(fixture_index: Path, use_embedder, tmp_path: Path, name: str,
                                                     data: bytes, status: int, message: str) -> None:
    copy = tmp_path / "index"
    shutil.copytree(fixture_index, copy, symlinks=True)
    client = make_client(copy, use_embedder, max_upload_bytes=1000)
    generation = (copy / "current").resolve()
    reply = upload(client, name, data)
    assert reply.status_code == status, reply.text
    assert message in reply.json()["error"]
    assert (copy / "current").resolve() == generation
    uploads = client.app.state.library.uploads
    assert not stored_files(uploads)
    assert client.post("/api/ask", json={"question": PORT_QUESTION}).status_code == 200


def test_a_failed_indexing_job_leaves_the_index_as_it_was(articles_copy: Path, use_embedder, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    build_index([articles_copy], index_dir, use_embedder)
    client = make_client(index_dir, use_embedder)
    generation = (index_dir / "current").resolve()
    (articles_copy / "library_fire.md").write_bytes(b"\x00\x01\x02" * 100)  # the corpus breaks meanwhile
    reply = upload(client, "lanterns.txt", FESTIVAL.encode(), wait=False)
    job = reply.json()
    while job["state"] not in ("done", "failed"):
        time.sleep(0.05)
        job = client.get(f"/api/jobs/{job['id']}").json()
    assert job["state"] == "failed" and "library_fire.md" in job["message"]
    assert (index_dir / "current").resolve() == generation
    assert not (client.app.state.library.uploads / "lanterns.txt").exists()
    assert client.get("/api/health").json()["articles"] == 5


def test_questions_are_answered_while_an_upload_is_indexed(writable: TestClient) -> None:
    big = "Harbour log\n\n" + "\n\n".join(f"Ship number {i} of the harbour log arrived with {i * 7} crates of dates "
                                         f"and left for the northern islands on day {i}." for i in range(400))
    job = upload(writable, "harbour_log.txt", big.encode(), wait=False).json()
    answered, states = [], set()
    while job["state"] not in ("done", "failed"):
        reply = writable.post("/api/ask", json={"question": PORT_QUESTION})
        answered.append(reply.status_code)
        job = writable.get(f"/api/jobs/{job['id']}").json()
        states.add(job["state"])
    assert job["state"] == "done", job
    assert "indexing" in states and answered and set(answered) == {200}


def test_questions_in_parallel_get_the_same_answers(client: TestClient, fixture_assistant: Assistant) -> None:
    questions = [json.loads(line)["question"] for line in (ARTICLES.parent / "questions.jsonl").open(encoding="utf-8")]
    expected = {q: fixture_assistant.answer(q).answer for q in questions}
    got: dict[str, str] = {}

    def ask(question: str) -> None:
        got[question] = client.post("/api/ask", json={"question": question}).json()["answer"]

    threads = [threading.Thread(target=ask, args=(q,)) for q in questions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert got == expected


def test_token_required_when_set(fixture_index: Path, use_embedder, tmp_path: Path) -> None:
    client = make_client(fixture_index, use_embedder, api_token="s3cret-token", upload_dir=tmp_path / "up")
    ask = {"question": PORT_QUESTION}
    assert client.post("/api/ask", json=ask).status_code == 401
    wrong = client.post("/api/ask", json=ask, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and "API token" in wrong.json()["error"]
    assert wrong.headers["www-authenticate"] == "Bearer"
    assert upload(client, "lanterns.txt", FESTIVAL.encode()).status_code == 401
    assert not stored_files(tmp_path / "up")
    assert client.get("/api/articles").status_code == 401
    good = {"Authorization": "Bearer s3cret-token"}
    assert client.post("/api/ask", json=ask, headers=good).status_code == 200
    assert client.get("/api/health", headers=good).status_code == 200


def test_cors_is_closed_by_default_and_configurable(client: TestClient, fixture_index: Path, use_embedder,
                                                    tmp_path: Path) -> None:
    preflight = {"Origin": "https://portal.example", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "content-type"}
    closed = client.options("/api/ask", headers=preflight)
    assert "access-control-allow-origin" not in closed.headers
    page_route = client.options("/gradio_api/queue/join", headers=preflight)  # Gradio's own CORS is off too
    assert "access-control-allow-origin" not in page_route.headers
    opened = make_client(fixture_index, use_embedder, cors_origins=["https://portal.example"],
                         upload_dir=tmp_path / "up")
    reply = opened.options("/api/ask", headers=preflight)
    assert reply.headers["access-control-allow-origin"] == "https://portal.example"
    other = opened.options("/api/ask", headers=dict(preflight, Origin="https://elsewhere.example"))
    assert "access-control-allow-origin" not in other.headers


def test_the_page_is_served_offline(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "gradio" in page.text
    assert "googletagmanager" not in page.text and "fonts.googleapis" not in page.text


def test_health_says_which_dictionary_english_questions_use(client: TestClient, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    assert client.get("/api/health").json()["dictionary"] is None  # the tests' default: none
    words = write_dictd(tmp_path / "eng-ara", ENTRIES)
    monkeypatch.setenv("DALIL_DICTIONARY", str(words))
    assert client.get("/api/health").json()["dictionary"] == str(words)
