"""The errors of followup, one small tree. Each message says what happened and what to do next.

    FollowupError
    ├── UsageError             bad arguments or settings (CLI exit code 2)
    │   └── InputError         a malformed question or history
    ├── ArticleError           one source file or record cannot become an Article
    │   │   (ingest reports it with its path and goes on with the rest)
    │   └── NothingToIngest    a valid source with no content (reported as skipped, not failed)
    ├── StoreError             the vector store cannot be used
    │   ├── StoreUnavailableError   a Chroma server does not answer
    │   ├── StoreMissingError       no index yet: run ingest
    │   └── FingerprintMismatchError  the index was built another way: --rebuild
    └── EmbedderError          the embedding model cannot be loaded

Only the edges catch them: the CLI prints one line and exits 1 (2 for UsageError); the chat shows
them as a message.
"""

from __future__ import annotations


class FollowupError(Exception):
    """Base class of every error this project raises on purpose."""

    exit_code = 1


class UsageError(FollowupError):
    """The command line or the settings are wrong."""

    exit_code = 2


class InputError(UsageError):
    """A question or conversation history that cannot be used as given."""


class ArticleError(FollowupError):
    """A source cannot be read or parsed into an Article."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class NothingToIngest(ArticleError):
    """A well-formed source that holds nothing to ingest (e.g. a MedQuAD page whose answers were
    removed by its publisher); reported as skipped, not as a failure."""


class StoreError(FollowupError):
    """The vector store cannot be used."""


class StoreUnavailableError(StoreError):
    """A Chroma server did not answer."""

    def __init__(self, url: str, detail: str = "") -> None:
        msg = (
            f"cannot reach the Chroma server at {url}"
            + (f" ({detail})" if detail else "")
            + ". Start it (`chroma run --host 127.0.0.1 --port 8000 --path DIR`) or drop"
            " --chroma-url / FOLLOWUP_CHROMA_URL to use the embedded store."
        )
        super().__init__(msg)
        self.url = url


class StoreBusyError(StoreError):
    """Another ingest holds the store's writer lock."""


class StoreMissingError(StoreError):
    """There is no index yet."""


class FingerprintMismatchError(StoreError):
    """The index was built with another embedding model or chunker."""


class EmbedderError(FollowupError):
    """The embedding model cannot be loaded."""
