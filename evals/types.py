"""The suite data types (``Suite``, ``Case``, ``Turn``, ``Gold``, ``SuiteError``) and the
vocabulary of keys, imported by both the suite loader and the generators (no cycle)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from followup.errors import UsageError
from followup.text import normalise_space

SUITE_KEYS = {"name", "description", "corpus", "cases", "generate", "baselines"}
BASELINES = ("bm25", "dense", "langchain-default", "naive-conversation")
CASE_KEYS = {"id", "audience", "turns", "tags"}
TURN_KEYS = {"ask", "expect", "gold"}
GOLD_KEYS = {"article", "span", "text"}
LIST_EXPECTS = {"articles", "contains", "contains_any", "not_contains", "retrieved_articles",
                "passages_contain", "standalone_contains"}
EXPECT_KEYS = LIST_EXPECTS | {"citations_min", "abstain", "clarification", "gold_start"}
GENERATE_KEYS = {"from", "path", "limit", "seed", "followups"}
AUDIENCES = ("clinician", "patient")
TOP_PASSAGES = 5  # retrieved_articles and passages_contain look at the top 5 passages
KNOWN_FAILURE = "known-failure"  # a case the system fails today: counted and reported as KNOWN


class SuiteError(UsageError):
    """A suite file that cannot be run as written."""

    def __init__(self, path: Path | str, reason: str, case: str | None = None) -> None:
        where = f"{path}" + (f": case {case!r}" if case else "")
        super().__init__(f"{where}: {reason}")
        self.path, self.case, self.reason = str(path), case, reason


@dataclass(frozen=True)
class Gold:
    """Where the answer is, for retrieval metrics: an article, optionally a character span
    of its source text (COVID-QA) and the answer text."""

    article: str
    span: tuple[int, int] | None = None
    text: str | None = None


@dataclass(frozen=True)
class Turn:
    ask: str
    expect: dict[str, Any] = field(default_factory=dict)
    gold: Gold | None = None

    @property
    def must_abstain(self) -> bool:
        return self.expect.get("abstain") is True

    @property
    def must_answer(self) -> bool:
        """Expected to answer: ``abstain: false`` or any expectation about the answer's content."""
        if "abstain" in self.expect:
            return self.expect["abstain"] is False
        return bool({"articles", "contains", "contains_any", "citations_min"} & set(self.expect))

    def relevant_articles(self) -> set[str]:
        ids = set(self.expect.get("articles", [])) | set(self.expect.get("retrieved_articles", []))
        if self.gold is not None:
            ids.add(self.gold.article)
        return ids


@dataclass(frozen=True)
class Case:
    id: str
    turns: tuple[Turn, ...]
    audience: str = "clinician"
    tags: tuple[str, ...] = ()

    @property
    def known_failure(self) -> bool:
        return KNOWN_FAILURE in self.tags


@dataclass
class Suite:
    name: str
    path: Path
    cases: list[Case]
    corpus: list[Path] = field(default_factory=list)
    description: str = ""
    baselines: tuple[str, ...] = BASELINES  # which baselines run with --baselines


def normalise(text: str) -> str:
    """Case-folded, runs of white space as one space: how every text expectation compares."""
    return normalise_space(text).casefold()
