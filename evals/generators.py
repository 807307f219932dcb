"""Suites built at run time from public datasets (or any copy of them).

* ``pubmedqa``: each question → its own abstract (article ``pubmedqa-<PMID>``); one turn.
* ``covidqa``: each question → the paper and the character span of its gold answer; a retrieved
  passage is relevant when it holds the whole span.
* ``medquad-chains``: a page's first question, then its other questions as follow-ups with the
  topic name replaced by a pronoun or dropped ("What are the symptoms of Gout ?" → "What are
  the symptoms?", "What causes Gout ?" → "What causes it?"); every turn must retrieve the page.

``limit`` draws that many cases at random with ``seed`` (the same every run), else all.
"""

from __future__ import annotations

import json
import random
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

from followup.evals.types import Case, Gold, SuiteError, Turn

GENERATORS = ("pubmedqa", "covidqa", "medquad-chains")


def _json_file(src: Path, suite_path: Path, name: str) -> Path:
    if src.is_file():
        return src
    found = sorted(src.rglob("*.json"))
    if len(found) != 1:
        raise SuiteError(suite_path, f"generate {name}: expected one JSON file in {src}, "
                                     f"found {len(found)}; name the file")
    return found[0]


def _load_json(path: Path, suite_path: Path, name: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SuiteError(suite_path, f"generate {name}: cannot read {path}: {exc}") from None


def pubmedqa_cases(src: Path, suite_path: Path, **_: Any) -> list[Case]:
    data = _load_json(_json_file(src, suite_path, "pubmedqa"), suite_path, "pubmedqa")
    if not isinstance(data, dict):
        raise SuiteError(suite_path, f"generate pubmedqa: {src} is not PubMedQA JSON")
    out: list[Case] = []
    for pmid, rec in data.items():
        q = " ".join(str(rec.get("QUESTION", "")).split())
        if q:
            art = f"pubmedqa-{pmid}"
            out.append(Case(f"pubmedqa-{pmid}", (Turn(q, {"retrieved_articles": [art]},
                                                      Gold(art)),)))
    return out


def covidqa_cases(src: Path, suite_path: Path, **_: Any) -> list[Case]:
    from followup.importers import covidqa_answer_span

    data = _load_json(_json_file(src, suite_path, "covidqa"), suite_path, "covidqa")
    if not isinstance(data, dict) or "data" not in data:
        raise SuiteError(suite_path, f"generate covidqa: {src} is not SQuAD-format JSON")
    out: list[Case] = []
    for doc in data["data"]:
        for para in doc["paragraphs"]:
            art = f"covidqa-{para['document_id']}"
            for qa in para["qas"]:
                answers = qa.get("answers") or []
                if not answers:
                    continue
                ans = answers[0]
                text = str(ans["text"])
                span = covidqa_answer_span(para["context"], int(ans["answer_start"]), text)
                expect: dict[str, Any] = {"retrieved_articles": [art]}
                if len(text) <= 300:
                    expect["passages_contain"] = [text]
                out.append(Case(f"covidqa-{qa['id']}", (Turn(
                    " ".join(qa["question"].split()), expect,
                    Gold(art, span, text)),)))
    return out


_TRAILING = re.compile(r"[\s?]*$")


def _followup(question: str, focus: str, rng: random.Random) -> str | None:
    """The question with its topic dropped ("…symptoms of X ?" → "…symptoms?") or replaced by
    "it"; None when the topic is not in the question."""
    q = " ".join(question.split())
    m = re.search(re.escape(focus), q, re.IGNORECASE)
    if not m:
        return None
    before, after = q[: m.start()], q[m.end():]
    at_end = not _TRAILING.sub("", after)
    prep = re.search(r"\s+(of|for|with|in)\s*$", before)
    if at_end and prep and rng.random() < 0.5:
        return before[: prep.start()].rstrip() + "?"
    out = (before + "it" + after).strip()
    return _TRAILING.sub("", out) + "?"


def medquad_chain_cases(src: Path, suite_path: Path, *, followups: int = 3, seed: int = 7,
                        **_: Any) -> list[Case]:
    from followup.importers import medquad_id

    pages = sorted(src.rglob("*.xml")) if src.is_dir() else [src]
    if not pages:
        raise SuiteError(suite_path, f"generate medquad-chains: no MedQuAD XML pages in {src}")
    rng = random.Random(seed)
    out: list[Case] = []
    for path in pages:
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError:
            continue
        focus = " ".join((root.findtext("Focus") or "").split())
        qs = [" ".join((p.findtext("Question") or "").split()) for p in root.iter("QAPair")
              if (p.findtext("Answer") or "").strip()]
        qs = [q for q in qs if q]
        if not focus or len(qs) < 2 or focus.lower() not in qs[0].lower():
            continue
        art = medquad_id(path)
        turns = [Turn(qs[0], {"retrieved_articles": [art]}, Gold(art))]
        for q in qs[1:]:
            f = _followup(q, focus, rng)
            if f is None or len(turns) > followups:
                continue
            turns.append(Turn(f, {"retrieved_articles": [art], "standalone_contains": [focus]},
                              Gold(art)))
        if len(turns) >= 2:
            out.append(Case(art, tuple(turns), tags=("followup-chain",)))
    return out


_BUILDERS: dict[str, Callable[..., list[Case]]] = {
    "pubmedqa": pubmedqa_cases, "covidqa": covidqa_cases, "medquad-chains": medquad_chain_cases}


def generate(name: str, src: Path, *, limit: int | None, seed: int, followups: int,
             suite_path: Path) -> list[Case]:
    if name not in _BUILDERS:
        raise SuiteError(suite_path, f"generate from {name!r}: known sources are "
                                     f"{', '.join(GENERATORS)}")
    cases = _BUILDERS[name](src, suite_path, followups=followups, seed=seed)
    if not cases:
        raise SuiteError(suite_path, f"generate {name}: no cases could be built from {src}")
    if limit is not None and limit < len(cases):
        cases = sorted(random.Random(seed).sample(cases, limit), key=lambda c: c.id)
    return cases
