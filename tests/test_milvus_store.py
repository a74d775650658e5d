"""`--store milvus` end to end with a real Milvus Lite file: same answers as FAISS, updates kept in sync."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from assistant.cli import main
from assistant.qa import Assistant
from assistant.settings import Settings
from index.store import load_index
from tests.conftest import ARTICLES

QUESTIONS = ["متى ستبدأ أشغال توسعة الميناء؟", "fire in the library", "Who opened the train line?",
             "ما سبب الحريق في المكتبة؟", "When will the port expansion start?"]


def index(tmp_path: Path, corpus: Path, name: str, *store: str) -> Path:
    index_dir = tmp_path / name
    built = CliRunner().invoke(main, ["index", str(corpus), "--index-dir", str(index_dir), "--deep-model", "none",
                                      *store])
    assert built.exit_code == 0, built.output
    return index_dir


def top_sources(index_dir: Path, question: str) -> list[str]:
    assistant = Assistant(load_index(index_dir), load_index_embedder(), Settings(index_dir=index_dir))
    return [hit.chunk.id for hit in assistant.retriever.search(question, k=5)]


def load_index_embedder():
    from index.embedding import load_embedder

    return load_embedder("use")


def test_milvus_store_gives_the_faiss_ranking_and_follows_updates(tmp_path: Path, articles_copy: Path) -> None:
    uri = str(tmp_path / "milvus.db")
    faiss_dir = index(tmp_path, articles_copy, "faiss")
    milvus_dir = index(tmp_path, articles_copy, "milvus", "--store", "milvus", "--milvus-uri", uri)
    manifest = json.loads((milvus_dir / "current" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["dense"]["kind"] == "milvus" and manifest["dense"]["uri"] == uri
    milvus_index = load_index(milvus_dir)
    assert milvus_index.dense_store is not None and load_index(faiss_dir).dense_store is None
    for question in QUESTIONS:
        assert top_sources(milvus_dir, question) == top_sources(faiss_dir, question)

    # An update without the options keeps the index in Milvus, and the collection follows the corpus.
    (articles_copy / "port_expansion.txt").unlink()
    shutil.copy(ARTICLES / "library_fire.md", articles_copy / "library_fire_copy.md")
    updated = CliRunner().invoke(main, ["index", str(articles_copy), "--index-dir", str(milvus_dir),
                                        "--deep-model", "none"])
    assert updated.exit_code == 0, updated.output
    fresh = load_index(milvus_dir)
    stored = sorted(fresh.dense_store._stored_ids())
    assert stored == sorted(c.id for c in fresh.chunks)
    rows, scores = fresh.dense_store.search(fresh.vectors[0], 3)  # the copied file ties with its original
    assert fresh.chunks[rows[0]].text == fresh.chunks[0].text and np.isclose(scores[0], 1.0, atol=1e-4)


def test_milvus_without_uri_is_one_clear_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["index", str(ARTICLES), "--index-dir", str(tmp_path / "ix"),
                                       "--store", "milvus"])
    assert result.exit_code == 1 and "--store milvus needs --milvus-uri" in result.output


def test_milvus_holds_the_deep_layer_and_gives_the_faiss_ranking(tmp_path: Path, articles_copy: Path,
                                                                 use_embedder, monkeypatch) -> None:
    """With a deep layer, its done passages go to a second collection, which questions search too: the same
    top 5 as FAISS over every passage, also while the fill is unfinished."""
    from assistant import candidates
    from index import build as build_module
    from index.build import DeepFillInterrupted, build_index
    from tests.test_build import CountingEmbedding

    monkeypatch.setattr(build_module, "DEEP_PUBLISH_SECONDS", 0.0)  # publish after every passage
    monkeypatch.setattr(build_module, "DEEP_BATCH", 1)

    deep = CountingEmbedding(inner=use_embedder, model_name="deep-test", dim=use_embedder.dim, fail_after=12)
    uri, faiss_dir, milvus_dir = str(tmp_path / "milvus.db"), tmp_path / "faiss", tmp_path / "milvus"

    def build(index_dir: Path, **store: str) -> None:
        try:
            build_index([articles_copy], index_dir, use_embedder, deep_embedder=deep, **store)
        except DeepFillInterrupted:
            pass  # Ctrl-C in the fill: what was published stays

    def same_rankings() -> None:
        faiss_index, milvus_index = load_index(faiss_dir), load_index(milvus_dir)
        assert milvus_index.deep_store is not None and faiss_index.deep_store is None
        stored = sorted(milvus_index.deep_store._stored_ids())
        done = milvus_index.deep.done
        assert stored == sorted(c.id for c, is_done in zip(milvus_index.chunks, done, strict=True) if is_done)
        searched = []
        search = milvus_index.deep_store.search
        milvus_index.deep_store.search = lambda *args: searched.append(args) or search(*args)
        for question in QUESTIONS:
            vector = use_embedder.embed_query(question)
            ranked = [[hit.chunk.id for hit in Assistant(index, use_embedder, Settings(index_dir=index_dir), deep)
                       .retriever.search(question, k=5, query_vector=vector, deep_vector=vector)]
                      for index, index_dir in ((faiss_index, faiss_dir), (milvus_index, milvus_dir))]
            assert ranked[0] == ranked[1], question
        assert len(searched) == len(QUESTIONS)  # the deep candidates came from Milvus
        # With few candidates a side (9 passages here, 100 a side by default), the deep side decides: the
        # same ranking as the candidate fusion over this process's own deep scores.
        with monkeypatch.context() as few:
            few.setattr(candidates, "CANDIDATES", 2)
            for question in QUESTIONS:
                vector = use_embedder.embed_query(question)
                ranked = [[hit.chunk.id for hit in candidates.candidate_search(
                    Assistant(index, use_embedder, Settings(index_dir=index_dir), deep).retriever, question, 5,
                    vector, vector)] for index, index_dir in ((faiss_index, faiss_dir), (milvus_index, milvus_dir))]
                assert ranked[0] == ranked[1], question

    for fail_after in (12, None):  # first a fill stopped part way, then finished
        deep.fail_after, deep.embedded = fail_after, 0
        build(faiss_dir)
        deep.embedded = 0
        build(milvus_dir, milvus_uri=uri)
        done = load_index(milvus_dir).deep.done
        assert 0 < done.sum() == load_index(faiss_dir).deep.done.sum() and (fail_after is None) == done.all()
        same_rankings()
    assert load_index(milvus_dir).deep.complete


def test_an_index_in_milvus_without_its_deep_collection_gets_one_on_the_next_build(
        tmp_path: Path, articles_copy: Path, use_embedder) -> None:
    """An index put in Milvus before the deep layer went there: the next `dalil index`, with nothing changed,
    syncs the deep collection instead of answering "up to date"."""
    from index.build import build_index
    from index.dense.milvus import MilvusIndex
    from tests.test_build import CountingEmbedding

    deep = CountingEmbedding(inner=use_embedder, model_name="deep-test", dim=use_embedder.dim)
    index_dir, uri = tmp_path / "ix", str(tmp_path / "milvus.db")
    build_index([articles_copy], index_dir, use_embedder, deep_embedder=deep, milvus_uri=uri)
    manifest_path = index_dir / "current" / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    collection = manifest["dense"].pop("deep_collection")  # as an index from before wrote it: no collection
    MilvusIndex(uri, collection, use_embedder.dim, []).store.client.drop_collection(collection)
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    assert load_index(index_dir).deep_store is None

    embedded = deep.embedded
    build_index([articles_copy], index_dir, use_embedder, deep_embedder=deep, milvus_uri=uri)
    again = load_index(index_dir)
    assert deep.embedded == embedded  # nothing embedded again
    assert again.deep_store is not None and len(again.deep_store._stored_ids()) == len(again.chunks)


def test_filling_the_deep_layer_again_keeps_its_collection_full(tmp_path: Path, articles_copy: Path,
                                                                use_embedder, monkeypatch) -> None:
    """A --rebuild starts the deep fill over; the collection the current generation reads keeps every
    vector meanwhile (only passages the corpus lost leave it), and another deep model gets its own."""
    from index import build as build_module
    from index.build import DeepFillInterrupted, build_index
    from tests.test_build import CountingEmbedding

    monkeypatch.setattr(build_module, "DEEP_PUBLISH_SECONDS", 0.0)
    monkeypatch.setattr(build_module, "DEEP_BATCH", 1)
    deep = CountingEmbedding(inner=use_embedder, model_name="deep-test", dim=use_embedder.dim)
    index_dir, uri = tmp_path / "ix", str(tmp_path / "milvus.db")
    build_index([articles_copy], index_dir, use_embedder, deep_embedder=deep, milvus_uri=uri)
    everything = sorted(c.id for c in load_index(index_dir).chunks)
    deep.fail_after, deep.embedded = 12, 0
    with pytest.raises(DeepFillInterrupted):
        build_index([articles_copy], index_dir, use_embedder, deep_embedder=deep, milvus_uri=uri, rebuild=True)
    partial = load_index(index_dir)
    assert not partial.deep.complete and sorted(partial.deep_store._stored_ids()) == everything

    other = CountingEmbedding(inner=use_embedder, model_name="deep-other", dim=use_embedder.dim)
    build_index([articles_copy], index_dir, use_embedder, deep_embedder=other, milvus_uri=uri)
    switched = load_index(index_dir)
    assert switched.deep_store.collection != partial.deep_store.collection
    assert sorted(partial.deep_store._stored_ids()) == everything  # the other model's collection is untouched


def test_an_unchanged_index_moves_into_milvus_and_out(tmp_path: Path, articles_copy: Path) -> None:
    """`--store milvus` on an index whose files did not change still puts it in Milvus (it once answered
    "up to date" and left it in FAISS alone), and `--store faiss` takes it out; nothing is embedded."""
    faiss_dir = index(tmp_path, articles_copy, "ix")
    uri = str(tmp_path / "milvus.db")
    moved = CliRunner().invoke(main, ["index", str(articles_copy), "--index-dir", str(faiss_dir),
                                      "--store", "milvus", "--milvus-uri", uri])
    assert moved.exit_code == 0 and "0 texts embedded" in moved.output, moved.output
    in_milvus = load_index(faiss_dir)
    assert in_milvus.manifest["dense"]["uri"] == uri
    assert sorted(in_milvus.dense_store._stored_ids()) == sorted(c.id for c in in_milvus.chunks)
    again = CliRunner().invoke(main, ["index", str(articles_copy), "--index-dir", str(faiss_dir)])
    assert again.exit_code == 0 and "up to date" in again.output, again.output  # stays where it was put
    back = CliRunner().invoke(main, ["index", str(articles_copy), "--index-dir", str(faiss_dir), "--store", "faiss"])
    assert back.exit_code == 0, back.output
    assert "dense" not in load_index(faiss_dir).manifest and load_index(faiss_dir).dense_store is None


def test_the_deep_collection_holds_the_deep_vectors(tmp_path: Path, articles_copy: Path, use_embedder) -> None:
    """The deep layer names rows of the embedding cache: what goes to Milvus must be their vectors (a build's
    layer is read from the cache as it is when published), so a passage's own vector finds it first."""
    from index.build import build_index
    from tests.test_build import CountingEmbedding

    deep = CountingEmbedding(inner=use_embedder, model_name="deep-test", dim=use_embedder.dim)
    index_dir = tmp_path / "index"
    build_index([articles_copy], index_dir, use_embedder, deep_embedder=deep, milvus_uri=str(tmp_path / "milvus.db"))
    index = load_index(index_dir)
    for row in (0, len(index.chunks) - 1):
        rows, scores = index.deep_store.search(index.deep.passages[row], 1)
        assert rows.tolist() == [row] and scores[0] > 0.99
