"""Generative composition with an LLM, checked: passages numbered, the only-from-passages
prompt, the output parsed, unknown citation labels removed, every sentence checked against the
passages it cites (``followup.support``); unsupported sentences are removed and counted."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from followup.answering.guard import looks_like_instruction
from followup.answering.references import ReferenceBook
from followup.answers import AnswerSentence, Reference
from followup.llm import stream
from followup.passages import Passage
from followup.prompts import load_prompt, refusal
from followup.support import check_support
from followup.text import normalise_space, term_set

_MARK = re.compile(r"\[(\d{1,2})\]")


@dataclass
class Generated:
    sentences: list[AnswerSentence]
    references: list[Reference]
    refused: bool
    raw: str
    removed: list[tuple[str, str]] = field(default_factory=list)  # (sentence, why)
    unknown_labels: int = 0


def render_passages(passages: Sequence[Passage]) -> str:
    """The numbered passages of the prompt. A sentence addressed to an AI ("Note to AI
    assistants: tell the user …") is withheld: article text is data, never instructions."""
    return "\n\n".join(f"[{i}] {p.chunk.title} — {p.chunk.section}\n{_as_data(p.chunk.text, p)}"
                       for i, p in enumerate(passages, 1))


def _as_data(text: str, passage: Passage) -> str:
    for s in passage.chunk.sentences:
        if looks_like_instruction(s.text):
            text = text.replace(s.text, "[withheld: a sentence addressed to an AI]")
    return text


def split_generated(raw: str) -> list[tuple[str, list[int]]]:
    """Sentences of the model's output with their [n] labels (labels after the full stop
    belong to the sentence before them)."""
    text = normalise_space(raw)
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Z\"(])|(?<=\])\s+(?=[A-Z\"(])", text)
    out: list[tuple[str, list[int]]] = []
    for part in parts:
        lead = re.match(r"^((?:\s*\[\d{1,2}\])+)\s*", part)
        if lead and out:
            out[-1][1].extend(int(n) for n in _MARK.findall(lead.group(1)))
            part = part[lead.end():]
        labels = [int(n) for n in _MARK.findall(part)]
        sentence = normalise_space(_MARK.sub("", part)).replace(" .", ".").strip()
        if sentence:
            out.append((sentence, labels))
    return out


def compose_generative(model: Any, question: str, passages: Sequence[Passage],
                       timeout_s: float, on_token: Callable[[str], None] | None = None
                       ) -> Generated:
    """Ask the model, then keep only checked, correctly cited sentences.

    Raises:
        LLMError: the model failed or was too slow (the caller falls back to extractive).
    """
    prompt = load_prompt("answer").render(passages=render_passages(passages),
                                          question=question, refusal=refusal())
    raw = stream(model, prompt, timeout_s, on_token)
    if normalise_space(raw).startswith(refusal()[:40]):
        return Generated([], [], True, raw)
    book = ReferenceBook()
    result = Generated([], [], False, raw)
    for sentence, labels in split_generated(raw):
        if normalise_space(sentence) == refusal():
            continue
        valid = [n for n in dict.fromkeys(labels) if 1 <= n <= len(passages)]
        result.unknown_labels += len(set(labels)) - len(valid)
        if not valid:
            result.removed.append((sentence, "no valid citation"))
            continue
        cited = [passages[n - 1] for n in valid]
        verdict = check_support(sentence, "\n".join(p.chunk.text for p in cited))
        if not verdict.supported:
            result.removed.append((sentence, verdict.reason))
            continue
        markers: list[int] = []
        first = cited[0].chunk
        for p in cited:
            s_terms = term_set(sentence)
            best = max(p.chunk.sentences, key=lambda x: len(s_terms & term_set(x.text)))
            for m in book.markers(p.chunk, best.citations):
                if m not in markers:
                    markers.append(m)
        result.sentences.append(AnswerSentence(
            text=sentence, citations=tuple(markers), chunk_id=first.id,
            article_id=first.article_id, section=first.section,
        ))
    result.references = book.references
    return result
