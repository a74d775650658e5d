"""Shared fixtures: offline environment, the fixture articles, a tiny sentence-transformers model, indexes."""

import atexit
import os
import shutil
import tempfile
from pathlib import Path

# Before anything imports huggingface_hub, which reads these once: no test may reach the network.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
# Unpacked model weights (index/use_weights.py) go to a temp folder, not the developer's ~/.cache; it is
# removed when the test session ends, so repeated runs do not pile folders up in /tmp.
os.environ["DALIL_CACHE_DIR"] = tempfile.mkdtemp(prefix="dalil-test-cache-")
atexit.register(shutil.rmtree, os.environ["DALIL_CACHE_DIR"], True)

# The imports below come after the environment above on purpose (they read it).
import pytest  # noqa: E402

from assistant.qa import Assistant  # noqa: E402
from assistant.settings import Settings  # noqa: E402
from index.build import build_index  # noqa: E402
from index.embedding import load_embedder  # noqa: E402

DATA = Path(__file__).parent / "data"
ARTICLES = DATA / "articles"
REPO = Path(__file__).parent.parent
SEEDS = REPO / "seeds"


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reaches the network or reads the developer's own settings or caches."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    # No test depends on the system's dictionary (index/dictionary.py); tests/test_dictionary.py writes its own.
    monkeypatch.setenv("DALIL_DICTIONARY", "none")
    for name in ("DALIL_INDEX_DIR", "DALIL_EMBED_MODEL", "DALIL_TOP_K", "DALIL_LLM", "DALIL_LLM_URL", "DALIL_LLM_MODEL",
                 "DALIL_LLM_API_KEY", "DALIL_LLM_TIMEOUT", "DALIL_LLM_MAX_TOKENS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def use_embedder():
    return load_embedder("use")


@pytest.fixture(scope="session")
def fixture_index(tmp_path_factory: pytest.TempPathFactory, use_embedder) -> Path:
    """An index of the fixture articles with the default embedder (built once per session)."""
    index_dir = tmp_path_factory.mktemp("fixture-index")
    build_index([ARTICLES], index_dir, use_embedder)
    return index_dir


@pytest.fixture(scope="session")
def fixture_assistant(fixture_index: Path, use_embedder) -> Assistant:
    from index.store import load_index

    return Assistant(load_index(fixture_index), use_embedder, Settings(index_dir=fixture_index))


@pytest.fixture()
def articles_copy(tmp_path: Path) -> Path:
    """A writable copy of the fixture articles, for tests that change files."""
    target = tmp_path / "articles"
    shutil.copytree(ARTICLES, target)
    return target


@pytest.fixture(scope="session")
def tiny_st_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-layer BERT sentence-transformers model (hidden size 32), saved to a folder named like e5.

    Built here so tests need no download; loaded back through Dalil's own loader.
    """
    import torch
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertConfig, BertModel, BertTokenizerFast

    torch.manual_seed(0)
    base = tmp_path_factory.mktemp("tiny-bert")
    words = {w for path in ARTICLES.rglob("*.*") for w in path.read_text(encoding="utf-8").split()}
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *sorted(words)[:2000]]
    (base / "vocab.txt").write_text("\n".join(vocab), encoding="utf-8")
    BertTokenizerFast(vocab_file=str(base / "vocab.txt")).save_pretrained(base)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=37, max_position_embeddings=128)
    BertModel(config).save_pretrained(base)
    transformer = models.Transformer(str(base), max_seq_length=128)
    pooling = models.Pooling(transformer.get_word_embedding_dimension(), pooling_mode="mean")
    folder = tmp_path_factory.mktemp("models") / "tiny-multilingual-e5"
    SentenceTransformer(modules=[transformer, pooling, models.Normalize()], device="cpu").save(str(folder))
    return folder
