"""The Article model: what every source (our Markdown, the seed's plain text, public datasets)
becomes before it is chunked. Spans index into ``Article.source_text``."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal

PARSER_VERSION = "1"

SectionKind = Literal["answer", "section"]


@dataclass(frozen=True)
class Sentence:
    """One sentence (or bullet) verbatim from the source, without its trailing citation numbers.

    ``source_text[start:end] == text`` always holds.
    """

    text: str
    citations: tuple[int, ...]
    start: int
    end: int


@dataclass(frozen=True)
class Section:
    """A titled run of sentences; ``kind="answer"`` is the article's direct answer."""

    heading: str
    kind: SectionKind
    sentences: tuple[Sentence, ...]


@dataclass(frozen=True)
class Article:
    """One evidence article, whatever its source format."""

    id: str
    title: str
    source_path: str
    source_text: str
    sections: tuple[Section, ...]
    references: dict[int, str | None]
    url: str | None = None
    updated: str | None = None
    review_status: str | None = None
    disclaimer: str | None = None
    source_format: str = "article"
    unattached_references: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)
    content_hash: str = ""

    @property
    def answer(self) -> Section | None:
        """The direct-answer section, when the article has one."""
        return next((s for s in self.sections if s.kind == "answer"), None)

    def cited_numbers(self) -> set[int]:
        """Every citation number used by any sentence."""
        return {n for s in self.sections for sent in s.sentences for n in sent.citations}


def content_hash(*parts: str | bytes) -> str:
    """Stable hash of an article's source plus the parser version (a parser change re-ingests)."""
    h = hashlib.sha256(PARSER_VERSION.encode())
    for part in parts:
        h.update(b"\x00")
        h.update(part.encode("utf-8") if isinstance(part, str) else part)
    return h.hexdigest()
