"""Answers: what crosses from composition to the CLI, the chat and the evals.

``Answer.to_json()`` is the contract of ``followup ask --json`` and of the chat's ``/ask`` API.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from followup.passages import Passage
from followup.text import quote_text


@dataclass(frozen=True)
class Reference:
    """One numbered reference of an answer: an article, and its own reference when it has one."""

    n: int
    article_id: str
    article_title: str
    ref_number: int | None
    ref_text: str | None
    url: str | None = None
    updated: str | None = None
    review_status: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"n": self.n, "article_id": self.article_id, "article_title": self.article_title,
                "ref_number": self.ref_number, "ref_text": self.ref_text, "url": self.url,
                "updated": self.updated, "review_status": self.review_status}

    def markdown(self) -> str:
        parts = [f"[{self.n}] {self.article_title}"]
        if self.ref_text:
            parts.append(f"— reference {self.ref_number}: {self.ref_text}")
        elif self.ref_number is not None:
            parts.append(f"— the article's reference {self.ref_number} (not listed)")
        meta = " · ".join(x for x in (
            f"updated {self.updated}" if self.updated else "",
            f"review status: {self.review_status}" if self.review_status else "",
            self.url or "") if x)
        return " ".join(parts) + (f" ({meta})" if meta else "")


@dataclass(frozen=True)
class AnswerSentence:
    """A sentence of the answer, verbatim from ``chunk_id``, citing references ``citations``."""

    text: str
    citations: tuple[int, ...]
    chunk_id: str
    article_id: str
    section: str
    source_citations: tuple[int, ...] = ()
    supported: bool = True

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "citations": list(self.citations), "chunk_id": self.chunk_id,
                "article_id": self.article_id, "section": self.section,
                "source_citations": list(self.source_citations)}


@dataclass
class Answer:
    question: str
    standalone_question: str
    sentences: list[AnswerSentence]
    references: list[Reference]
    passages: list[Passage]
    abstained: bool
    disclaimer: str
    refusal: str | None = None
    suggestions: list[str] = field(default_factory=list)
    closest_articles: list[dict[str, str]] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    audience: str = "clinician"
    is_followup: bool = False
    notices: list[str] = field(default_factory=list)
    patient_note: str | None = None
    mode: str = "extractive"
    unsupported_removed: int = 0
    not_covered: list[str] = field(default_factory=list)  # words naming what no article covers
    clarification: str | None = None  # a question back, when the follow-up is ambiguous
    uncovered: str | None = None  # what the refusal says is not covered, when it can say

    def body_markdown(self) -> str:
        """The answer's text with its [n] markers (no references, no disclaimer)."""
        if self.clarification:
            return self.clarification
        if self.abstained:
            return "\n\n".join(x for x in (self.refusal, self.uncovered) if x)
        paras: list[list[str]] = []
        last_group: tuple[str, str] | None = None
        for s in self.sentences:
            group = (s.article_id, s.section)
            if group != last_group:
                paras.append([])
                last_group = group
            text = quote_text(s.text)
            if text[-1:] not in ".!?:":
                text += "."
            marks = "".join(f"[{n}]" for n in s.citations)
            paras[-1].append(f"{text} {marks}".rstrip())
        body = "\n\n".join(" ".join(p) for p in paras)
        if self.patient_note:
            body += f"\n\n{self.patient_note}"
        return body

    def markdown(self) -> str:
        """The whole answer as shown: body, references, then the professional disclaimer."""
        out = [self.body_markdown()]
        if self.references:
            out.append("**References**\n\n" + "\n".join(f"{r.markdown()}  " for r in
                                                        self.references))
        if self.abstained and self.closest_articles:
            out.append("**Closest articles**\n\n" + "\n".join(
                f"- {a['title']} ({a['article_id']})" for a in self.closest_articles))
        out.append(f"*{self.disclaimer}*")
        return "\n\n".join(out)

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "standalone_question": self.standalone_question,
            "answer": self.markdown(),
            "sentences": [s.to_json() for s in self.sentences],
            "references": [r.to_json() for r in self.references],
            "passages": [
                {"chunk_id": p.chunk.id, "article_id": p.chunk.article_id,
                 "article_title": p.chunk.title, "section": p.chunk.section,
                 "text": p.chunk.text, "score": round(p.score, 4),
                 "start": p.chunk.start, "end": p.chunk.end,
                 "citations": list(p.chunk.citations),
                 "sentence_citations": [list(x.citations) for x in p.chunk.sentences]}
                for p in self.passages
            ],
            "abstained": self.abstained,
            "disclaimer": self.disclaimer,
            "suggestions": self.suggestions,
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
            "audience": self.audience,
            "is_followup": self.is_followup,
            "mode": self.mode,
            "notices": self.notices,
            "closest_articles": self.closest_articles,
            "refusal": self.refusal,
            "patient_note": self.patient_note,
            "unsupported_removed": self.unsupported_removed,
            "not_covered": self.not_covered,
            "clarification": bool(self.clarification),
            "uncovered": self.uncovered,
            "cited_articles": self.cited_articles(),
            "metadata": {"cited_articles": self.cited_articles()},  # for the history turn
        }

    def cited_articles(self) -> list[str]:
        """The ids of the articles the answer cites, in order of first citation."""
        return list(dict.fromkeys(s.article_id for s in self.sentences))
