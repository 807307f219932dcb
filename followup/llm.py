"""The LLM edge: chat models picked by id, called with a deadline. LangChain types stay here.

``ollama:MODEL`` goes through ``langchain-ollama``; ``openai:MODEL`` through ``langchain-openai``
against ``llm_base_url`` (vLLM, llama.cpp, any OpenAI-compatible server). Every call has a
deadline: a model that is down or slow makes the caller fall back to extractive answers.
"""

from __future__ import annotations

import concurrent.futures
import threading
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


_POOL = concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="llm")


def _text(message: Any) -> str:
    content = getattr(message, "content", message)
    if isinstance(content, list):
        return "".join(part.get("text", "") if isinstance(part, dict) else str(part)
                       for part in content)
    return str(content)


def complete(model: Any, prompt: str, timeout_s: float) -> str:
    """One completion, or LLMError on failure or past the deadline."""
    future = _POOL.submit(model.invoke, prompt)
    try:
        return _text(future.result(timeout=timeout_s))
    except concurrent.futures.TimeoutError as exc:
        future.cancel()
        raise LLMError(f"the language model did not answer within {timeout_s:.0f} s") from exc
    except Exception as exc:
        raise LLMError(f"the language model failed ({type(exc).__name__}: "
                       f"{str(exc)[:120]})") from exc


def stream(model: Any, prompt: str, timeout_s: float,
           on_token: Callable[[str], None] | None = None) -> str:
    """Stream a completion, calling ``on_token`` for each piece; the whole text is returned.

    Raises:
        LLMError: failure, or no completion within ``timeout_s`` (the wait between tokens and
            the whole call are both bounded).
    """
    pieces: list[str] = []
    done = threading.Event()
    error: list[BaseException] = []

    def run() -> None:
        try:
            for chunk in model.stream(prompt):
                pieces.append(_text(chunk))
        except BaseException as exc:  # reported to the caller below
            error.append(exc)
        finally:
            done.set()

    _POOL.submit(run)
    sent = 0
    waited = 0.0
    step = 0.05
    while not done.is_set() or sent < len(pieces):
        while sent < len(pieces):
            if on_token is not None:
                on_token(pieces[sent])
            sent += 1
        if done.wait(step):
            continue
        waited += step
        if waited >= timeout_s:
            raise LLMError(f"the language model did not finish within {timeout_s:.0f} s")
    if error:
        exc = error[0]
        raise LLMError(f"the language model failed ({type(exc).__name__}: "
                       f"{str(exc)[:120]})") from exc
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
