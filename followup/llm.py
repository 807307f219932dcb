"""The LLM edge: chat models picked by id, called with a deadline. LangChain types stay here.

``ollama:MODEL`` goes through ``langchain-ollama``; ``openai:MODEL`` through ``langchain-openai``
against ``llm_base_url`` (vLLM, llama.cpp, any OpenAI-compatible server). Every call has a
deadline: a model that is down or slow makes the caller fall back to extractive answers.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from followup.errors import FollowupError, UsageError
from followup.settings import Settings


class LLMError(FollowupError):
    """The LLM did not answer in time or failed; callers fall back to extractive answers."""


def get_chat_model(settings: Settings) -> Any:
    """A LangChain chat model for ``settings.llm`` (None when no LLM is configured)."""
    if not settings.llm:
        return None
    provider, _, model = settings.llm.partition(":")
    timeout = settings.llm_timeout_s
    if provider == "ollama":
        from langchain_ollama import ChatOllama

        kwargs: dict[str, Any] = {"model": model, "temperature": 0,
                                  "client_kwargs": {"timeout": timeout}}
        if settings.llm_base_url:
            kwargs["base_url"] = settings.llm_base_url
        return ChatOllama(**kwargs)
    if provider == "openai":
        from langchain_openai import ChatOpenAI

        if not settings.llm_base_url:
            raise UsageError("openai:MODEL needs FOLLOWUP_LLM_BASE_URL (the server's /v1 URL)")
        from pydantic import SecretStr

        key = settings.llm_api_key or SecretStr("not-needed")
        return ChatOpenAI(model=model, base_url=settings.llm_base_url, api_key=key,
                          temperature=0, timeout=timeout, max_retries=0)
    raise UsageError(f"unknown LLM provider {provider!r}; use ollama:MODEL or openai:MODEL")


# At most this many calls wait on the model at once; past it, callers fall back at once (a
# stuck server cannot pile up threads in the chat).
_MAX_CALLS = 8
_SLOTS = threading.BoundedSemaphore(_MAX_CALLS)
_THREAD_NAME = "llm"


def calls_in_flight() -> int:
    """Calls whose thread has not ended yet (including those the caller gave up on)."""
    return sum(t.name == _THREAD_NAME and t.is_alive() for t in threading.enumerate())


def _text(message: Any) -> str:
    content = getattr(message, "content", message)
    if isinstance(content, list):
        return "".join(part.get("text", "") if isinstance(part, dict) else str(part)
                       for part in content)
    return str(content)


def _start(work: Callable[[], None]) -> None:
    """Run ``work`` on a daemon thread (the process never waits for a stuck model at exit)."""
    if not _SLOTS.acquire(blocking=False):
        raise LLMError(f"the language model is busy ({_MAX_CALLS} calls already waiting on it)")

    def run() -> None:
        try:
            work()
        finally:
            _SLOTS.release()

    threading.Thread(target=run, name=_THREAD_NAME, daemon=True).start()


def _failed(exc: BaseException) -> LLMError:
    return LLMError(f"the language model failed ({type(exc).__name__}: {str(exc)[:120]})")


def complete(model: Any, prompt: str, timeout_s: float) -> str:
    """One completion, or LLMError on failure or past the deadline."""
    done = threading.Event()
    result: list[Any] = []
    error: list[BaseException] = []

    def work() -> None:
        try:
            result.append(model.invoke(prompt))
        except BaseException as exc:  # reported to the caller below
            error.append(exc)
        finally:
            done.set()

    _start(work)
    if not done.wait(timeout_s):
        raise LLMError(f"the language model did not answer within {timeout_s:.0f} s")
    if error:
        raise _failed(error[0]) from error[0]
    return _text(result[0])


def stream(model: Any, prompt: str, timeout_s: float,
           on_token: Callable[[str], None] | None = None) -> str:
    """Stream a completion, calling ``on_token`` for each piece; the whole text is returned.

    Raises:
        LLMError: failure, or no completion within ``timeout_s`` (the whole call is bounded; a
            model still streaming then is told to stop at its next token).
    """
    pieces: list[str] = []
    done = threading.Event()
    cancel = threading.Event()
    error: list[BaseException] = []

    def work() -> None:
        tokens = None
        try:
            tokens = model.stream(prompt)
            for chunk in tokens:
                if cancel.is_set():
                    break
                pieces.append(_text(chunk))
        except BaseException as exc:  # reported to the caller below
            error.append(exc)
        finally:
            with contextlib.suppress(Exception):  # the answer no longer depends on it
                getattr(tokens, "close", lambda: None)()  # ends the HTTP stream
            done.set()

    _start(work)
    sent = 0
    deadline = time.monotonic() + timeout_s
    while not done.is_set() or sent < len(pieces):
        while sent < len(pieces):
            if on_token is not None:
                on_token(pieces[sent])
            sent += 1
        if done.wait(0.05):
            continue
        if time.monotonic() >= deadline:
            cancel.set()
            raise LLMError(f"the language model did not finish within {timeout_s:.0f} s")
    if error:
        raise _failed(error[0]) from error[0]
    return "".join(pieces)


def iter_tokens(text: str) -> Iterator[str]:
    """Word-sized pieces of an already composed answer (extractive mode streams these)."""
    start = 0
    for i, ch in enumerate(text):
        if ch == " ":
            yield text[start: i + 1]
            start = i + 1
    if start < len(text):
        yield text[start:]
