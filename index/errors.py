"""The one tree of errors that every layer raises and every surface turns into a clear line.

It lives in the lowest layer (``index/``) so that loading, the store, the assistant and the UI
can all raise and catch the same classes without ``index/`` importing anything above it.

    DalilError                      base: ``str(err)`` is the message a person sees
    ├── InputError                  something the user gave us is unusable
    │   ├── ArticleError            a file or folder to index (empty, binary, missing, not text)
    │   ├── QuestionError           an empty or over-long question
    │   └── ConfigError             a setting or option value (unknown embedder, bad k)
    ├── IndexError_                 the stored index
    │   ├── IndexMissing            there is no index where we looked
    │   ├── IndexDamaged            a file of the index is missing, truncated or unreadable
    │   └── IndexMismatch           built with another embedder / chunking / normaliser
    ├── ModelError                  an embedding model cannot be loaded (offline, not installed)
    └── LLMError                    the configured LLM failed: unreachable, HTTP error, unusable reply
        └── LLMTimeout              it did not finish within the timeout

    DeepFillInterrupted             a KeyboardInterrupt (Ctrl-C) during the sentence or deep layer's fill, saying
                                    that the steps published so far are kept

Surfaces never show an ``LLMError`` as a failure: the answer falls back to the extractive one, with the
error's message as a one-line notice (assistant/generation.py).

Each error has a ``hint`` (what to do next) that surfaces append to the message.
"""


class DalilError(Exception):
    """Base of every error Dalil raises on purpose."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        separator = "" if self.message.endswith("\n") else " "  # a listing ends with its own newline
        return f"{self.message}{separator}{self.hint}".strip()


class InputError(DalilError):
    """Something the user gave us cannot be used as it is."""


class ArticleError(InputError):
    """A file or folder to index cannot be read as articles."""


class QuestionError(InputError):
    """A question that cannot be answered as asked (empty, too long)."""


class ConfigError(InputError):
    """A setting or option with a value Dalil does not accept."""


class IndexError_(DalilError):  # noqa: N801 - the builtin IndexError is a different thing
    """Something is wrong with the stored index."""


class IndexMissing(IndexError_):
    """No index exists at the given location."""


class IndexDamaged(IndexError_):
    """A file of the index is missing, truncated or unreadable."""


class IndexMismatch(IndexError_):
    """The index was built with settings that differ from the ones asked for."""


class ModelError(DalilError):
    """An embedding model cannot be loaded."""


class DeepFillInterrupted(KeyboardInterrupt):
    """Ctrl-C while the sentence vectors or the deep layer were being filled: what was published before it
    stays and is usable.

    A ``KeyboardInterrupt`` still (exit 130), carrying the line the CLI prints instead of "not changed".
    """

    message = ("interrupted while filling the sentence vectors or the deep layer; the index keeps every step "
               "published so far "
               "(run `dalil index` again to finish it).")


class LLMError(DalilError):
    """The configured LLM could not give an answer (unreachable, HTTP error, failed while streaming)."""


class LLMTimeout(LLMError):
    """The configured LLM did not finish within the timeout."""
