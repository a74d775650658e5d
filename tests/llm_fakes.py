"""A scripted llama-index LLM for tests: canned replies, streamed token by token, and the prompts it got."""

import time
from collections.abc import Sequence
from typing import Any

from llama_index.core.llms import CompletionResponse, CompletionResponseGen, CustomLLM, LLMMetadata
from llama_index.core.llms.callbacks import llm_completion_callback
from pydantic import Field

from assistant.generation import Generator


class ScriptedLLM(CustomLLM):
    """Each call takes the next reply: a list of tokens to stream, or an exception to raise mid-stream.

    A reply ``["The fire [", "2", "]."]`` streams those three tokens in order, each a separate delta,
    so split markers reach Dalil split. ``delay`` seconds pass before each token.
    """

    replies: list[Any] = Field(default_factory=list)
    prompts: list[str] = Field(default_factory=list)
    delay: float = 0.0

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name="scripted", is_chat_model=False)

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(text="".join(r.delta for r in self.stream_complete(prompt)))

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        self.prompts.append(prompt)
        reply = self.replies.pop(0)

        def tokens() -> CompletionResponseGen:
            text = ""
            for token in reply:
                if isinstance(token, BaseException):
                    raise token
                time.sleep(self.delay)
                text += token
                yield CompletionResponse(text=text, delta=token)

        return tokens()


def scripted(*replies: Sequence[Any] | str, timeout: float = 5.0, delay: float = 0.0) -> Generator:
    """A Generator over a ScriptedLLM; a reply given as one string is split into 3-character tokens."""
    listed = [[r[i:i + 3] for i in range(0, len(r), 3)] if isinstance(r, str) else list(r) for r in replies]
    return Generator(ScriptedLLM(replies=listed, delay=delay), "scripted:fake", timeout, "scripted")
