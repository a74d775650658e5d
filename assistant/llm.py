"""Which LLM writes answers: the settings turned into a llama-index LLM (imported only when one is configured).

    --llm openai-like --llm-url URL --llm-model NAME [--llm-api-key KEY]   vLLM, llama.cpp, LM Studio, hosted APIs
    --llm ollama:MODEL [--llm-url URL]                                     an Ollama server

llama-index's global ``Settings.llm`` is never set: the LLM is passed explicitly to the code that uses it,
so nothing else in llama-index can reach for OpenAI.
"""

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from assistant.settings import Settings
from index.errors import ConfigError

OPENAI_LIKE = "openai-like"
OLLAMA_PREFIX = "ollama:"
DEFAULT_OLLAMA_URL = "http://127.0.0.1:11434"
OFF = {"", "none", "off", "extractive"}
# What a placeholder key is sent as when the server needs none (the OpenAI client refuses an empty one).
NO_KEY = "not-needed"
# Low temperature: the answer should restate the passages, not vary from one asking to the next.
TEMPERATURE = 0.1
CONTEXT_WINDOW = 8192  # only llama-index's own prompt helpers read it; the prompt is ~5 passages


@dataclass(frozen=True)
class LLMSpec:
    """A checked LLM configuration: which integration, which server, which model."""

    kind: str  # "openai-like" or "ollama"
    url: str
    model: str
    api_key: str | None
    timeout: float
    max_tokens: int

    @property
    def label(self) -> str:
        """How answers name their model: 'openai-like:NAME' or 'ollama:NAME'."""
        return f"{self.kind}:{self.model}"


def llm_spec(settings: Settings) -> LLMSpec | None:
    """The LLM the settings ask for, checked; None when answers stay extractive.

    Raises:
        ConfigError: an unknown --llm value, or openai-like without a URL or model name.
    """
    choice = (settings.llm or "").strip()
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    common = {"api_key": key, "timeout": settings.llm_timeout, "max_tokens": settings.llm_max_tokens}
    if choice.lower() in OFF:
        return None
    if choice.lower() == OPENAI_LIKE:
        missing = [name for name, value in (("--llm-url", settings.llm_url), ("--llm-model", settings.llm_model))
                   if not value]
        if missing:
            raise ConfigError(f"--llm openai-like needs {' and '.join(missing)}.",
                              "Give for example --llm-url http://127.0.0.1:8000/v1 --llm-model qwen2.5-7b-instruct.")
        return LLMSpec(OPENAI_LIKE, openai_base_url(settings.llm_url or ""), settings.llm_model or "", **common)
    if choice.lower().startswith(OLLAMA_PREFIX) and choice[len(OLLAMA_PREFIX):].strip():
        url = (settings.llm_url or DEFAULT_OLLAMA_URL).rstrip("/")
        return LLMSpec("ollama", _checked_url(url), choice[len(OLLAMA_PREFIX):].strip(), **common)
    raise ConfigError(f"--llm '{choice}' is not an LLM Dalil knows.",
                      "Use 'openai-like' (with --llm-url and --llm-model) or 'ollama:MODEL', e.g. ollama:qwen2.5:3b.")


def openai_base_url(url: str) -> str:
    """The API base the OpenAI client appends '/chat/completions' to: a bare host gets '/v1'."""
    parts = urlsplit(_checked_url(url.strip()))
    path = parts.path.rstrip("/") or "/v1"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _checked_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"--llm-url '{url}' is not an http(s) URL.", "Give for example http://127.0.0.1:8000/v1.")
    return url


def make_llm(spec: LLMSpec) -> Any:
    """The llama-index LLM for ``spec``; its integration package is imported here, not before.

    Retries are off: a server that is down should give the extractive answer at once, not after backoff.
    """
    if spec.kind == OPENAI_LIKE:
        try:
            from llama_index.llms.openai_like import OpenAILike
        except ImportError as err:
            raise ConfigError(f"The OpenAI-compatible LLM integration is not installed ({err}).",
                              "Run `pip install llama-index-llms-openai-like`.") from None
        return OpenAILike(model=spec.model, api_base=spec.url, api_key=spec.api_key or NO_KEY,
                          is_chat_model=True, context_window=CONTEXT_WINDOW, max_tokens=spec.max_tokens,
                          temperature=TEMPERATURE, timeout=spec.timeout, max_retries=0)
    try:
        from llama_index.llms.ollama import Ollama
    except ImportError as err:
        raise ConfigError(f"The Ollama LLM integration is not installed ({err}).",
                          "Run `pip install llama-index-llms-ollama`.") from None
    headers = {"Authorization": f"Bearer {spec.api_key}"} if spec.api_key else None
    return Ollama(model=spec.model, base_url=spec.url, request_timeout=spec.timeout, temperature=TEMPERATURE,
                  context_window=CONTEXT_WINDOW, additional_kwargs={"num_predict": spec.max_tokens},
                  headers=headers)
