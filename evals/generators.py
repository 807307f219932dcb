"""Suites built at run time from public datasets (or any copy of them).

* ``pubmedqa``: each question → its own abstract (article ``pubmedqa-<PMID>``); one turn.
* ``covidqa``: each question → the paper and the character span of its gold answer; a retrieved
  passage is relevant when it holds the whole span.
* ``medquad-chains``: a page's first question, then its other questions as follow-ups with the
  topic name replaced by a pronoun or dropped ("What are the symptoms of Gout ?" → "What are
  the symptoms?", "What causes Gout ?" → "What causes it?"); every turn must retrieve the page.
* ``medquad-natural``: a page's first question, then follow-ups a person would type for the
  other kinds of question the page answers ("What signs should I look out for?", "Is it
  inherited?", "How is it treated?"); each must retrieve the page and name its topic in the
  standalone question.
* ``medquad-answers``: the same conversations; each follow-up's answer must cite the page and
  quote a sentence of the page's own answer to that kind of question.
* ``medquad-switch``: page A's first question, page B's, then a natural follow-up on B: B is
  cited and named in the standalone question (a change of topic, not A carried on).

``limit`` draws that many cases at random with ``seed`` (the same every run), else all.
"""

from __future__ import annotations

import json
import random
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from followup.evals.types import Case, Gold, SuiteError, Turn

GENERATORS = ("pubmedqa", "covidqa", "medquad-chains", "medquad-natural", "medquad-answers",
              "medquad-switch")


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
                expect: dict[str, Any] = {"retrieved_articles": [art], "gold_start": True}
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
    rng = random.Random(seed)
    out: list[Case] = []
    for page in _pages(src, suite_path, "medquad-chains"):
        qs = page.questions
        if len(qs) < 2 or page.focus.lower() not in qs[0].lower():
            continue
        turns = [Turn(qs[0], {"retrieved_articles": [page.art]}, Gold(page.art))]
        for q in qs[1:]:
            f = _followup(q, page.focus, rng)
            if f is None or len(turns) > followups:
                continue
            turns.append(Turn(f, {"retrieved_articles": [page.art],
                                  "standalone_contains": [page.focus]}, Gold(page.art)))
        if len(turns) >= 2:
            out.append(Case(page.art, tuple(turns), tags=("followup-chain",)))
    return out


# What a person types to ask each MedQuAD question type of the page being discussed.
NATURAL: dict[str, tuple[str, ...]] = {
    "symptoms": ("What signs should I look out for?", "What are the symptoms?",
                 "How would I know if I have it?"),
    "treatment": ("How is it treated?", "What are the treatment options?"),
    "causes": ("What causes it?", "Why does it happen?"),
    "inheritance": ("Is it inherited?", "Can it be passed down in families?"),
    "outlook": ("What's the outlook?", "What is the prognosis?"),
    "prevention": ("Can it be prevented?",),
    "susceptibility": ("Who is at risk?", "Who gets it?"),
    "frequency": ("How common is it?",),
    "genetic changes": ("What genes are involved?",),
    "exams and tests": ("How is it diagnosed?", "What tests are done for it?"),
    "complications": ("What complications can it cause?",),
    "stages": ("What are the stages?",),
}
ANSWER_SENTENCES = 12  # of a page's answer, the sentences an answer may quote to pass
ANSWER_PREFIX_CHARS = 60  # each compared by its opening (markdown quoting may differ later)
_LEAD = re.compile(r"^(?:Key Points\s*)?[-•*\s]+|^Key Points\s+")  # bullets, not sentence text


@dataclass(frozen=True)
class _Page:
    art: str
    focus: str
    first: str
    answers: dict[str, str]  # question type -> that QA pair's answer
    questions: tuple[str, ...] = ()  # every question with an answer, in page order


def _pages(src: Path, suite_path: Path, name: str) -> list[_Page]:
    from followup.importers import medquad_id

    paths = sorted(src.rglob("*.xml")) if src.is_dir() else [src]
    if not paths:
        raise SuiteError(suite_path, f"generate {name}: no MedQuAD XML pages in {src}")
    out: list[_Page] = []
    for path in paths:
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError:
            continue
        focus = " ".join((root.findtext("Focus") or "").split())
        pairs: list[tuple[str, str, str]] = []  # (question, its type, answer)
        for p in root.iter("QAPair"):
            q, a = p.find("Question"), " ".join((p.findtext("Answer") or "").split())
            if q is not None and a and (q.text or "").strip():
                pairs.append((" ".join((q.text or "").split()), q.get("qtype", ""), a))
        if not focus or not pairs:
            continue
        first = pairs[0][0]
        answers: dict[str, str] = {}
        for _, kind, a in pairs[1:]:
            answers.setdefault(kind, a)
        out.append(_Page(medquad_id(path), focus, first, answers,
                         tuple(q for q, _, _ in pairs)))
    return out


def _answer_openings(answer: str) -> list[str]:
    from followup.sentences import split_sentences

    out = []
    for s in split_sentences(answer, citations=False)[:ANSWER_SENTENCES]:
        text = _LEAD.sub("", " ".join(s.text.split()))
        if len(text) >= 25:
            out.append(text[:ANSWER_PREFIX_CHARS])
    return out


def _natural_turns(page: _Page, rng: random.Random, n: int, answers: bool) -> list[Turn]:
    kinds = [k for k in NATURAL if k in page.answers]
    rng.shuffle(kinds)
    out = []
    for kind in kinds[:n]:
        expect: dict[str, Any] = {"retrieved_articles": [page.art],
                                  "standalone_contains": [page.focus]}
        if answers:
            openings = _answer_openings(page.answers[kind])
            if not openings:
                continue
            expect = {"articles": [page.art], "contains_any": openings}
        out.append(Turn(rng.choice(NATURAL[kind]), expect, Gold(page.art)))
    return out


def _usable(page: _Page) -> bool:
    return page.focus.lower() in page.first.lower() and any(k in page.answers for k in NATURAL)


def medquad_natural_cases(src: Path, suite_path: Path, *, followups: int = 3, seed: int = 7,
                          answers: bool = False, **_: Any) -> list[Case]:
    rng = random.Random(seed)
    name = "medquad-answers" if answers else "medquad-natural"
    out: list[Case] = []
    for page in _pages(src, suite_path, name):
        if not _usable(page):
            continue
        follow = _natural_turns(page, rng, followups, answers)
        if follow:
            first = Turn(page.first, {"retrieved_articles": [page.art]}, Gold(page.art))
            out.append(Case(page.art, (first, *follow), tags=("natural-followup",)))
    return out


def medquad_answer_cases(src: Path, suite_path: Path, **kw: Any) -> list[Case]:
    return medquad_natural_cases(src, suite_path, answers=True, **kw)


def medquad_switch_cases(src: Path, suite_path: Path, *, seed: int = 7, **_: Any) -> list[Case]:
    rng = random.Random(seed)
    pages = [p for p in _pages(src, suite_path, "medquad-switch") if _usable(p)]
    out: list[Case] = []
    for i, b in enumerate(pages):
        a = pages[rng.randrange(len(pages))]
        if a.art == b.art or a.focus.casefold() == b.focus.casefold():
            continue
        follow = _natural_turns(b, rng, 1, False)
        if not follow:
            continue
        turn = Turn(follow[0].ask, {"articles": [b.art], "standalone_contains": [b.focus]},
                    Gold(b.art))
        out.append(Case(f"switch-{i}-{b.art}", (
            Turn(a.first, {"retrieved_articles": [a.art]}, Gold(a.art)),
            Turn(b.first, {"retrieved_articles": [b.art]}, Gold(b.art)), turn),
            tags=("topic-switch",)))
    return out


_BUILDERS: dict[str, Callable[..., list[Case]]] = {
    "pubmedqa": pubmedqa_cases, "covidqa": covidqa_cases, "medquad-chains": medquad_chain_cases,
    "medquad-natural": medquad_natural_cases, "medquad-answers": medquad_answer_cases,
    "medquad-switch": medquad_switch_cases}


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
