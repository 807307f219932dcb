"""The generative path with scripted chat models (the one edge we fake: a remote LLM).

Each fake is an honest BaseChatModel subclass that records the prompts it was given and answers
from a script; it cites wrongly, invents sentences, changes numbers, flips negations, refuses,
fails, or is slow. The answer must keep only checked, correctly cited sentences, fall back to
extractive with a notice, and never hang.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field

from followup.answering.contextualize import Turn
from followup.answering.engine import Engine
from followup.prompts import PromptError, load_prompt, placeholders, refusal
from followup.settings import Settings
from tests.conftest import ROOT


class ScriptedChatModel(BaseChatModel):
    """Answers ``script(prompt)``; records every prompt; can fail or be slow."""

    script: Callable[[str], str]
    delay_s: float = 0.0
    fail: bool = False
    prompts: list[str] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _reply(self, messages: list[BaseMessage]) -> str:
        prompt = "\n".join(str(m.content) for m in messages)
        self.prompts.append(prompt)
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.fail:
            raise ConnectionError("connection refused by 127.0.0.1:11434")
        return self.script(prompt)

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: Any = None, **kwargs: Any) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(
            content=self._reply(messages)))])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: Any = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        for piece in re.findall(r"\S+\s*", self._reply(messages)):
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece))


def passages_of(prompt: str) -> dict[int, list[str]]:
    """The numbered passages in an answer prompt: label -> sentence lines."""
    block = prompt.split("Passages:", 1)[1].split("\nQuestion:", 1)[0]
    out: dict[int, list[str]] = {}
    for part in re.split(r"\n(?=\[\d+\] )", block.strip()):
        m = re.match(r"\[(\d+)\] [^\n]*\n(.*)", part, re.S)
        if m:
            out[int(m.group(1))] = [ln for ln in m.group(2).split("\n") if ln.strip()]
    return out


def quote(prompt: str, label: int = 1, line: int = 0) -> str:
    return passages_of(prompt)[label][line].rstrip(".") + f". [{label}]"


@pytest.fixture()
def make_engine(answer_store: Settings, embedder: Any) -> Callable[..., Engine]:
    def make(script: Callable[[str], str], **kw: Any) -> Engine:
        settings = answer_store.model_copy(update={"llm": "ollama:scripted",
                                                   "llm_timeout_s": kw.pop("timeout", 5.0)})
        model = ScriptedChatModel(script=script, prompts=[], **kw)
        return Engine(settings, embedder=embedder, chat_model=model)

    return make


Q = "Can withdrawal cause muscle spasms?"


def test_good_answer_is_kept_and_cited(make_engine: Callable[..., Engine]) -> None:
    engine = make_engine(lambda p: quote(p, 1) + " " + quote(p, 2))
    a = engine.ask(Q)
    assert not a.abstained and a.mode == "ollama:scripted"
    assert len(a.sentences) == 2 and a.unsupported_removed == 0
    assert all(s.citations for s in a.sentences)
    prompt = engine.chat_model.prompts[-1]
    assert refusal() in prompt and "[1]" in prompt and Q in prompt


def test_wrong_citations_and_inventions_are_removed(make_engine: Callable[..., Engine]
                                                    ) -> None:
    def script(p: str) -> str:
        good = quote(p, 1)
        line = next((ln for ln in passages_of(p)[1] if re.search(r"\d", ln)), None)
        wrong_number = (re.sub(r"\d+", "97", line, count=1) + " [1]") if line else ""
        return " ".join(x for x in [
            good,
            "Withdrawal from caffeine causes lasting paralysis in most adults. [1]",  # invented
            passages_of(p)[2][0].rstrip(".") + ". [9]",  # unknown label only
            wrong_number,  # a changed number
            "Gabapentin never causes withdrawal symptoms. [2]",  # swapped drug, negation
        ] if x)

    a = make_engine(script).ask(Q)
    assert not a.abstained
    assert [s.text for s in a.sentences] == [a.sentences[0].text]
    assert a.unsupported_removed >= 3
    assert any("removed" in n for n in a.notices)
    assert "caffeine" not in a.markdown() and "97" not in a.body_markdown()


def test_nothing_supported_means_refusal(make_engine: Callable[..., Engine]) -> None:
    a = make_engine(lambda p: "The moon is made of cheese. [1] Aspirin cures withdrawal. [2]"
                    ).ask(Q)
    assert a.abstained and a.refusal == refusal() and a.unsupported_removed == 2


def test_model_refusal_is_a_refusal(make_engine: Callable[..., Engine]) -> None:
    a = make_engine(lambda p: refusal()).ask(Q)
    assert a.abstained and a.sentences == [] and a.markdown().startswith(refusal())


def test_model_down_falls_back_to_extractive(make_engine: Callable[..., Engine]) -> None:
    a = make_engine(lambda p: "unused", fail=True).ask(Q)
    assert not a.abstained and a.mode == "extractive"
    assert any("failed" in n and "extractively" in n for n in a.notices)


def test_slow_model_never_hangs(make_engine: Callable[..., Engine]) -> None:
    engine = make_engine(lambda p: quote(p, 1), delay_s=3.0, timeout=0.5)
    t = time.perf_counter()
    a = engine.ask(Q)
    assert time.perf_counter() - t < 2.5
    assert not a.abstained and a.mode == "extractive"
    assert any("did not finish within" in n or "did not answer within" in n for n in a.notices)


class EndlessStream(ScriptedChatModel):
    """Streams one token every ``delay_s`` forever (a server that never finishes)."""

    streamed: list[str] = Field(default_factory=list)

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: Any = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        while True:
            time.sleep(self.delay_s)
            self.streamed.append("Baclofen ")
            yield ChatGenerationChunk(message=AIMessageChunk(content="Baclofen "))


def test_an_endless_stream_is_stopped_not_left_running() -> None:
    """Past the deadline the caller falls back and the model is told to stop: no thread keeps
    reading (before, the CLI printed its answer and then never exited)."""
    from followup.llm import LLMError, stream

    model = EndlessStream(script=lambda p: "", delay_s=0.05)
    got: list[str] = []
    with pytest.raises(LLMError, match="did not finish within"):
        stream(model, "prompt", 0.5, got.append)
    assert got, "tokens were streamed before the deadline"
    time.sleep(0.3)
    n = len(model.streamed)
    time.sleep(0.3)
    assert len(model.streamed) == n, "the stream kept being read after the deadline"
    assert all(t.daemon for t in threading.enumerate() if t.name == "llm")


def test_a_stuck_model_is_waited_on_once_per_answer(make_engine: Callable[..., Engine]
                                                    ) -> None:
    """When the follow-up's rewrite times out, the answer is composed extractively at once,
    not after a second wait on the same model."""
    engine = make_engine(lambda p: "unused", delay_s=1.0, timeout=0.3)
    a = engine.ask("What about baclofen?", [Turn("user", Q), Turn("assistant", "Yes.")])
    assert a.mode == "extractive" and not a.abstained
    assert len(engine.chat_model.prompts) == 1  # type: ignore[union-attr]
    assert any("did not answer within" in n for n in a.notices)


def _settle() -> None:
    """Wait for calls that earlier tests gave up on to end (they hold their slots till then)."""
    from followup.llm import calls_in_flight

    deadline = time.monotonic() + 10
    while calls_in_flight() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert calls_in_flight() == 0


def test_too_many_waiting_calls_fall_back_at_once() -> None:
    from followup.llm import _MAX_CALLS, LLMError, complete

    _settle()
    model = ScriptedChatModel(script=lambda p: "x", delay_s=1.0, prompts=[])
    for _ in range(_MAX_CALLS):
        with pytest.raises(LLMError, match="did not answer"):
            complete(model, "p", 0.01)
    with pytest.raises(LLMError, match="busy"):
        complete(model, "p", 5.0)
    _settle()
    assert complete(model.model_copy(update={"delay_s": 0.0}), "p", 5.0) == "x"


def test_condense_prompt_is_used_and_checked(make_engine: Callable[..., Engine]) -> None:
    def script(p: str) -> str:
        if "Standalone question:" in p:
            return "Can baclofen withdrawal cause muscle spasms?"
        return quote(p, 1)

    engine = make_engine(script)
    history = [Turn("user", Q), Turn("assistant", "Yes.")]
    a = engine.ask("What about baclofen?", history)
    assert a.standalone_question == "Can baclofen withdrawal cause muscle spasms?"
    assert a.is_followup
    condense = engine.chat_model.prompts[0]
    assert "What about baclofen?" in condense and Q in condense


def test_bad_condensation_falls_back_offline(make_engine: Callable[..., Engine]) -> None:
    def script(p: str) -> str:
        if "Standalone question:" in p:
            return "Sure! Here is a poem about cats and quantum chromodynamics instead"
        return quote(p, 1)

    a = make_engine(script).ask("What about baclofen?", [Turn("user", Q)])
    assert "baclofen" in a.standalone_question and "poem" not in a.standalone_question
    assert any("interpreted offline" in n for n in a.notices)


def test_streaming_tokens_then_answer(make_engine: Callable[..., Engine]) -> None:
    engine = make_engine(lambda p: quote(p, 1) + " " + quote(p, 2))
    events = list(engine.ask_stream(Q))
    tokens = [e["text"] for e in events if e["type"] == "token"]
    assert len(tokens) > 5 and events[-1]["type"] == "answer"
    assert "".join(tokens).strip().startswith(events[-1]["answer"].sentences[0].text[:20])


def test_extractive_mode_streams_too(answer_store: Settings, embedder: Any) -> None:
    engine = Engine(answer_store, embedder=embedder)
    events = list(engine.ask_stream(Q))
    text = "".join(e["text"] for e in events if e["type"] == "token")
    assert text == events[-1]["answer"].body_markdown()


def test_prompt_files_keep_their_contract() -> None:
    for path in sorted((ROOT / "prompts").glob("*.md")):
        prompt = load_prompt(path.stem)
        assert placeholders(prompt.text) == set(prompt.variables)
    answer = load_prompt("answer")
    with pytest.raises(PromptError):
        answer.render(passages="x", question="y")
    with pytest.raises(PromptError):
        answer.render(passages="x", question="y", refusal="z", extra="w")
    assert set(load_prompt("condense").variables) == {"history", "question"}
    assert load_prompt("refusal").variables == frozenset()


def test_real_ollama_client_against_a_closed_port_falls_back(answer_store: Settings,
                                                             embedder: Any) -> None:
    """The real langchain-ollama client, server down: extractive answer with a notice."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = answer_store.model_copy(update={
        "llm": "ollama:llama3.1", "llm_base_url": f"http://127.0.0.1:{port}",
        "llm_timeout_s": 5.0})
    t = time.perf_counter()
    a = Engine(settings, embedder=embedder).ask(Q)
    assert time.perf_counter() - t < 5
    assert not a.abstained and a.mode == "extractive" and a.notices
