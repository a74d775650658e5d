"""Duplicates and re-uploads: stored once, a changed article replaces its passages, failures put things back."""

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from index.build import build_index
from index.store import load_index
from tests.conftest import ARTICLES
from tests.test_api import FESTIVAL, make_client, stored_files, upload
from ui import library as library_module
from ui.library import Library

CHANGED = FESTIVAL.replace("four thousand", "nine thousand").replace("Thursday", "Saturday")


@pytest.fixture()
def client(fixture_index: Path, use_embedder, tmp_path: Path) -> TestClient:
    copy = tmp_path / "index"
    shutil.copytree(fixture_index, copy, symlinks=True)
    return make_client(copy, use_embedder)


def uploaded_files(client: TestClient) -> list[str]:
    return stored_files(client.app.state.library.uploads)


def test_the_same_article_twice_or_under_two_names_is_stored_once(client: TestClient) -> None:
    first = upload(client, "lanterns.txt", FESTIVAL.encode()).json()
    articles = client.get("/api/health").json()["articles"]
    expected = {"lanterns.txt": "'lanterns.txt' is indexed already with this text: nothing changed.",
                "festival copy.txt": "holds the same text as 'lanterns.txt', which is indexed already"}
    for name, message in expected.items():
        again = upload(client, name, FESTIVAL.encode()).json()
        assert again["state"] == "done" and message in again["message"], again
    assert first["state"] == "done" and uploaded_files(client) == ["lanterns.txt"]
    assert client.get("/api/health").json()["articles"] == articles
    indexed = (ARTICLES / "port_expansion.txt").read_bytes()  # a copy of a corpus file is not indexed twice
    assert "same text as 'port_expansion.txt'" in upload(client, "port.txt", indexed).json()["message"]
    assert uploaded_files(client) == ["lanterns.txt"]


def test_a_changed_article_replaces_its_passages(client: TestClient) -> None:
    upload(client, "lanterns.txt", FESTIVAL.encode())
    before = client.get("/api/health").json()
    replaced = upload(client, "lanterns.txt", CHANGED.encode()).json()
    assert replaced["state"] == "done", replaced
    assert client.get("/api/health").json()["articles"] == before["articles"] and uploaded_files(client) == [
        "lanterns.txt"]
    library = client.app.state.library
    texts = {chunk.text for chunk in library.assistant.index.chunks}
    assert not any("four thousand" in text for text in texts) and any("nine thousand" in t for t in texts)
    for question in ("How many paper lanterns were made?", "When will the lantern festival open?"):
        answer = client.post("/api/ask", json={"question": question}).json()
        assert "four thousand" not in answer["answer"] and "Thursday" not in answer["answer"]
        assert all(c["text"] in texts for c in answer["citations"])  # no citation of a removed passage
    assert "nine thousand" in client.post("/api/ask", json={"question": "How many paper lanterns were made?"}
                                          ).json()["answer"]


def test_a_failed_replacement_puts_the_old_version_back(articles_copy: Path, use_embedder, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    build_index([articles_copy], index_dir, use_embedder)
    client = make_client(index_dir, use_embedder)
    assert upload(client, "lanterns.txt", FESTIVAL.encode()).json()["state"] == "done"
    generation = (index_dir / "current").resolve()
    (articles_copy / "library_fire.md").write_bytes(b"\x00\x01\x02" * 100)  # the corpus breaks meanwhile
    reply = upload(client, "lanterns.txt", CHANGED.encode())
    assert reply.status_code == 422 and "library_fire.md" in reply.json()["error"]
    assert (index_dir / "current").resolve() == generation
    assert uploaded_files(client) == ["lanterns.txt"]
    assert (client.app.state.library.uploads / "lanterns.txt").read_text(encoding="utf-8") == FESTIVAL


def test_finished_jobs_are_pruned(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(library_module, "KEEP_FINISHED_JOBS", 2)
    ids = [upload(client, "lanterns.txt", FESTIVAL.encode()).json()["id"] for _ in range(3)]
    assert client.get(f"/api/jobs/{ids[0]}").status_code == 404
    assert [client.get(f"/api/jobs/{i}").json()["state"] for i in ids[1:]] == ["done", "done"]
    assert len(client.app.state.library._job_list()) == 2


def test_a_killed_servers_leftovers_are_tidied(fixture_assistant, tmp_path: Path) -> None:
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    (uploads / ".removing-0123456789ab-old.txt").write_text("removal never finished", encoding="utf-8")
    (uploads / ".incoming-ffff.txt").write_text("never placed", encoding="utf-8")
    (uploads / ".replaced-0123456789ab-new.txt").write_text("the version before", encoding="utf-8")
    library = Library(fixture_assistant, fixture_assistant.settings.model_copy(update={"upload_dir": uploads}))
    library.close()
    assert stored_files(uploads) == ["old.txt"]
    assert load_index(fixture_assistant.settings.index_dir)  # the index itself is not touched


def test_a_second_server_leaves_the_first_ones_uploads_alone(fixture_assistant, tmp_path: Path) -> None:
    # A second `dalil serve` on the same index (even one about to fail on a port in use) deleted the uploads
    # the running server had accepted and not yet placed; their jobs then failed with FileNotFoundError.
    settings = fixture_assistant.settings.model_copy(update={"upload_dir": tmp_path / "uploads"})
    first = Library(fixture_assistant, settings)
    try:
        waiting = settings.uploads_folder / ".incoming-accepted.txt"
        waiting.write_text("accepted, waiting for the worker", encoding="utf-8")
        Library(fixture_assistant, settings).close()
        assert waiting.exists()
    finally:
        first.close()
    Library(fixture_assistant, settings).close()  # with the first one gone, its leftovers are tidied
    assert not waiting.exists()


def test_an_upload_keeps_an_index_in_milvus(articles_copy: Path, use_embedder, tmp_path: Path) -> None:
    """The web app re-indexes as the index was built: its passages stay in Milvus, the upload's join them."""
    index_dir, uri = tmp_path / "index", str(tmp_path / "milvus.db")
    build_index([articles_copy], index_dir, use_embedder, milvus_uri=uri)
    client = make_client(index_dir, use_embedder)
    assert upload(client, "lanterns.txt", FESTIVAL.encode()).json()["state"] == "done"
    index = load_index(index_dir)
    assert index.manifest["dense"]["uri"] == uri
    assert sorted(index.dense_store._stored_ids()) == sorted(chunk.id for chunk in index.chunks)
    assert any(chunk.source == "lanterns.txt" for chunk in index.chunks)
