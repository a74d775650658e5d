"""One settings object for every surface, read from arguments and DALIL_* environment variables."""

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from index.errors import ConfigError

ENV_PREFIX = "DALIL_"
DEFAULT_INDEX_DIR = Path(".dalil") / "index"
# The seed corpus that `dalil ask` indexes when there is no index yet: the repo's seeds/ folder.
SEEDS_DIR = Path(__file__).resolve().parent.parent / "seeds"


class Settings(BaseModel):
    """Where the index lives, which embedder builds it, and the limits on questions."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    index_dir: Path = Field(DEFAULT_INDEX_DIR, description="Folder of the index (DALIL_INDEX_DIR).")
    embed_model: str | None = Field(
        None, description="Embedder for new indexes: 'use', 'e5', or a sentence-transformers name or folder. "
        "None = the one the index was built with, or 'use' for a new index (DALIL_EMBED_MODEL).")
    deep_model: str | None = Field(
        None, description="Deep layer: a second, slower encoder filled in after the fast one ('e5', a "
        "sentence-transformers name or folder, or 'none'). None = as the index was built, or 'e5' for a new "
        "index (DALIL_DEEP_MODEL).")
    store: Literal["faiss", "milvus"] | None = Field(
        None, description="Dense store of a new index: 'faiss' (in the index folder) or 'milvus' (also in a "
        "Milvus collection, searched instead). None = as the index was built, else faiss (DALIL_STORE).")
    milvus_uri: str | None = Field(
        None, description="Milvus for --store milvus: a local Milvus Lite file ending in .db, or a server "
        "address such as http://host:19530 (DALIL_MILVUS_URI).")
    top_k: int = Field(5, ge=1, le=50, description="Passages retrieved and shown per question (DALIL_TOP_K).")
    max_question_chars: int = Field(2000, ge=10, description="Longest question accepted, in characters.")
    seeds_dir: Path = Field(SEEDS_DIR, description="Corpus indexed on first use when there is no index.")
    # The web server (`dalil serve`).
    host: str = Field("127.0.0.1", description="Address `dalil serve` listens on; loopback only unless "
                      "asked (DALIL_HOST).")
    port: int = Field(7860, ge=1, le=65535, description="Port `dalil serve` listens on (DALIL_PORT).")
    api_token: SecretStr | None = Field(
        None, description="When set, the HTTP API, uploads and the web page require it as a bearer token "
        "(the page asks for it as its password) (DALIL_API_TOKEN).")
    cors_origins: list[str] = Field(
        default_factory=list, description="Web origins allowed to call the API from a browser, comma-separated; "
        "none by default (DALIL_CORS_ORIGINS).")
    upload_dir: Path | None = Field(
        None, description="Folder where uploaded articles are kept and indexed from; default: beside the "
        "index, '<index_dir>-uploads' (DALIL_UPLOAD_DIR).")
    max_upload_bytes: int = Field(5_000_000, ge=1, description="Largest article file accepted by upload, in "
                                  "bytes (DALIL_MAX_UPLOAD_BYTES).")
    # Generated answers (docs/llm.md). No llm = the extractive answer.
    llm: str | None = Field(None, description="The LLM that writes answers: 'openai-like' (with llm_url and "
                            "llm_model) or 'ollama:MODEL'; none = extractive answers only (DALIL_LLM).")
    llm_url: str | None = Field(None, description="Base URL of the LLM server, e.g. http://127.0.0.1:8000/v1; "
                                "for Ollama default http://127.0.0.1:11434 (DALIL_LLM_URL).")
    llm_model: str | None = Field(None, description="Model name the OpenAI-compatible server knows "
                                  "(DALIL_LLM_MODEL).")
    llm_api_key: SecretStr | None = Field(None, description="API key sent to the LLM server, if it needs one "
                                          "(DALIL_LLM_API_KEY).")
    llm_timeout: float = Field(60.0, gt=0, le=3600, description="Seconds the LLM has to finish an answer; after "
                               "that the extractive answer is shown with a notice (DALIL_LLM_TIMEOUT).")
    llm_max_tokens: int = Field(512, ge=16, le=32768, description="Longest generated answer, in tokens "
                                "(DALIL_LLM_MAX_TOKENS).")

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):  # from the environment: "https://a.example,https://b.example"
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @property
    def uploads_folder(self) -> Path:
        """Where uploads go: ``upload_dir``, or a folder named after the index beside it."""
        return self.upload_dir or self.index_dir.with_name(self.index_dir.name + "-uploads")

    @classmethod
    def load(cls, **overrides: object) -> "Settings":
        """Settings from DALIL_* variables, then ``overrides`` (None values are ignored)."""
        values: dict[str, object] = {}
        for name in cls.model_fields:
            env = os.environ.get(ENV_PREFIX + name.upper())
            if env:
                values[name] = env
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls(**values)
        except ValidationError as err:
            first = err.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            given = f" (given: {values[field]!r})" if field in values else ""
            raise ConfigError(f"Setting '{field}'{given}: {first['msg']}.",
                              f"Fix the option or DALIL_{field.upper()}.") from None
