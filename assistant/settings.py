"""One settings object for every surface, read from arguments and DALIL_* environment variables."""

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

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
    top_k: int = Field(5, ge=1, le=50, description="Passages retrieved and shown per question (DALIL_TOP_K).")
    max_question_chars: int = Field(2000, ge=10, description="Longest question accepted, in characters.")
    seeds_dir: Path = Field(SEEDS_DIR, description="Corpus indexed on first use when there is no index.")

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
            raise ConfigError(f"Setting '{field}': {first['msg']}.", "Fix the option or DALIL_* variable.") from None
