"""Expectations and metrics over answered turns (definitions and sources in ``evals/README.md``).

Everything here reads the answer *JSON* (the contract of ``followup ask --json`` and ``/ask``),
so an in-process engine and a deployed chat are judged the same way.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from followup.evals.judge import Judge
from followup.evals.suite import KNOWN_FAILURE, TOP_PASSAGES, Turn, normalise
from followup.stats import percentile
from followup.text import normalise_space

KS = (1, 3, 5, 8)


@dataclass
class TurnResult:
    """One asked turn: what came back and how it was judged."""

    suite: str
    case: str
    index: int  # 0-based turn number in its case
    turn: Turn
    audience: str = "clinician"
    answer: dict[str, Any] | None = None
    error: str | None = None
    latency_ms: float = 0.0
    failures: list[str] = field(default_factory=list)
    relevant_passages: int | None = None  # how many passages of the index are relevant
    verdicts: list[dict[str, Any]] = field(default_factory=list)
    baselines: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    baseline_relevant: dict[str, int | None] = field(default_factory=dict)
    baseline_failures: dict[str, list[str]] = field(default_factory=dict)  # answering baselines
    known_failure: bool = False
    turn_tags: tuple[str, ...] = ()  # the case's tags (phenomena), for per-phenomenon rows

    @property
    def passed(self) -> bool:
        return not self.failures and self.error is None


# ---------------------------------------------------------------- expectations

GOLD_START_CHARS = 40  # the start of a gold answer span that the answer must quote


def gold_start_rate(results: Sequence[TurnResult], failures: Callable[[TurnResult], list[str]]
                    ) -> float:
    """Share of the turns expecting ``gold_start`` whose answer quotes the gold span's start."""
    asked = [r for r in results if r.turn.expect.get("gold_start")]
    return _mean(float(not any(f.startswith("gold_start:") for f in failures(r)))
                 for r in asked)


def _short(text: str, n: int = 160) -> str:
    text = normalise_space(text)
    return text if len(text) <= n else text[: n - 1] + "…"


def cited_articles(answer: dict[str, Any]) -> list[str]:
    return list(dict.fromkeys(r["article_id"] for r in answer.get("references", [])))


def top_articles(passages: Sequence[dict[str, Any]], k: int = TOP_PASSAGES) -> list[str]:
    return list(dict.fromkeys(p["article_id"] for p in passages[:k]))


def check_expectations(turn: Turn, answer: dict[str, Any]) -> list[str]:
    """Each failed expectation as 'key: expected …; got …'."""
    e = turn.expect
    out: list[str] = []
    text = normalise(answer.get("answer", ""))
    abstained = bool(answer.get("abstained"))
    if "abstain" in e and e["abstain"] != abstained:
        out.append("abstain: expected the refusal; got an answer: " + _short(
            answer.get("answer", "")) if e["abstain"] else
            "abstain: expected an answer; got the refusal")
    elif e.get("abstain") is not True and abstained and turn.must_answer:
        out.append("abstained: expected an answer; got the refusal")
    if "clarification" in e and bool(answer.get("clarification")) != e["clarification"]:
        out.append("clarification: expected " + ("a clarifying question" if e["clarification"]
                                                 else "no clarifying question") + "; got: "
                   + _short(answer.get("answer", "")))
    if e.get("gold_start") and turn.gold is not None and turn.gold.text:
        start = normalise(turn.gold.text)[:GOLD_START_CHARS]
        if start not in text:
            out.append(f"gold_start: the answer does not hold the start of the gold answer "
                       f"{start!r}")
    if "articles" in e and not set(e["articles"]) & set(cited_articles(answer)):
        out.append(f"articles: expected any of {e['articles']} among the cited articles; "
                   f"cited {cited_articles(answer)}")
    if "contains" in e:
        missing = [w for w in e["contains"] if normalise(w) not in text]
        if missing:
            out.append(f"contains: {missing} not in the answer: {_short(answer.get('answer', ''))}")
    if "contains_any" in e and not any(normalise(w) in text for w in e["contains_any"]):
        out.append(f"contains_any: none of {e['contains_any']} in the answer: "
                   f"{_short(answer.get('answer', ''))}")
    if "not_contains" in e:
        found = [w for w in e["not_contains"] if normalise(w) in text]
        if found:
            out.append(f"not_contains: {found} found in the answer")
    if "citations_min" in e:
        used = {n for s in answer.get("sentences", []) for n in s.get("citations", [])}
        if len(used) < e["citations_min"]:
            out.append(f"citations_min: expected at least {e['citations_min']} cited "
                       f"references; got {len(used)}")
    passages = answer.get("passages", [])
    if "retrieved_articles" in e and not set(e["retrieved_articles"]) & set(
            top_articles(passages)):
        out.append(f"retrieved_articles: expected any of {e['retrieved_articles']} among the "
                   f"top {TOP_PASSAGES} passages' articles; got {top_articles(passages)}")
    if "passages_contain" in e:
        texts = [normalise(p.get("text", "")) for p in passages[:TOP_PASSAGES]]
        missing = [w for w in e["passages_contain"] if not any(normalise(w) in t for t in texts)]
        if missing:
            out.append(f"passages_contain: {missing} in none of the top {TOP_PASSAGES} passages")
    if "standalone_contains" in e:
        sq = answer.get("standalone_question", "")
        missing = [w for w in e["standalone_contains"] if normalise(w) not in normalise(sq)]
        if missing:
            out.append(f"standalone_contains: {missing} not in the standalone question "
                       f"{sq!r}")
    return out


# ---------------------------------------------------------------- citations (ALCE)

def citation_passages(answer: dict[str, Any], n: int) -> list[str]:
    """The retrieved passages behind citation ``[n]``: the passages of the reference's article
    that carry its reference number (all of the article's passages when it has none)."""
    refs = {r["n"]: r for r in answer.get("references", [])}
    ref = refs.get(n)
    if ref is None:
        return []
    same = [p for p in answer.get("passages", []) if p["article_id"] == ref["article_id"]]
    if ref.get("ref_number") is not None:
        numbered = [p for p in same if ref["ref_number"] in p.get("citations", [])]
        same = numbered or same
    return [p["text"] for p in same]


def judge_sentences(answer: dict[str, Any], judge: Judge) -> list[dict[str, Any]]:
    """Per sentence: ALCE citation recall (the cited passages together support it) and, per
    citation, precision (it supports the sentence alone, or the others do not without it);
    and whether any single retrieved passage supports it (the unsupported-sentence rate)."""
    if answer.get("abstained"):
        return []
    out: list[dict[str, Any]] = []
    cache: dict[tuple[str, str], bool] = {}

    def sup(sentence: str, passage: str) -> bool:
        key = (sentence, passage)
        if key not in cache:
            cache[key] = bool(passage) and judge.supports(sentence, passage)
        return cache[key]

    for s in answer.get("sentences", []):
        text = s["text"]
        cites = list(dict.fromkeys(s.get("citations", [])))
        per = {n: "\n".join(citation_passages(answer, n)) for n in cites}
        joint = sup(text, "\n".join(v for v in per.values() if v)) if cites else False
        precise: list[bool] = []
        for n in cites:
            if not joint:
                precise.append(False)
            elif len(cites) == 1 or sup(text, per[n]):
                precise.append(True)
            else:
                rest = "\n".join(per[m] for m in cites if m != n and per[m])
                precise.append(not sup(text, rest))
        anywhere = joint or any(sup(text, p.get("text", ""))
                                for p in answer.get("passages", []))
        out.append({"text": text, "citations": cites, "supported": joint,
                    "precise": precise, "supported_by_any_passage": anywhere})
    return out


_MARKER = re.compile(r"\[(\d+)\]")


def citations_valid(answer: dict[str, Any]) -> tuple[bool, str]:
    """Every sentence of a non-refusal answer has ≥1 citation and every citation (in the
    sentences and in the answer text) resolves to a listed reference."""
    refs = {r["n"] for r in answer.get("references", [])}
    for s in answer.get("sentences", []):
        if not s.get("citations"):
            return False, f"sentence without a citation: {_short(s['text'], 80)!r}"
        bad = [n for n in s["citations"] if n not in refs]
        if bad:
            return False, f"citation(s) {bad} not among the references {sorted(refs)}"
    body = answer.get("answer", "").split("**References**")[0]
    bad_marks = sorted({int(m) for m in _MARKER.findall(body)} - refs)
    if bad_marks:
        return False, f"marker(s) {bad_marks} in the answer text resolve to no reference"
    if not answer.get("sentences"):
        return False, "an answer without sentences"
    return True, "ok"


# ---------------------------------------------------------------- retrieval

def passage_relevant(p: dict[str, Any], turn: Turn) -> bool:
    """Passage-level gold: the gold span inside the passage (COVID-QA), else a
    ``passages_contain`` text in it (from a relevant article when the turn names any)."""
    g = turn.gold
    if g is not None and g.span is not None:
        if p.get("article_id") != g.article:
            return False
        if "start" in p and "end" in p and p["start"] is not None:
            return bool(p["start"] <= g.span[0] and g.span[1] <= p["end"])
        return bool(g.text) and normalise(g.text or "") in normalise(p.get("text", ""))
    texts = turn.expect.get("passages_contain")
    if texts:
        arts = turn.relevant_articles()
        if arts and p.get("article_id") not in arts:
            return False
        t = normalise(p.get("text", ""))
        return any(normalise(x) in t for x in texts)
    return False


def has_passage_gold(turn: Turn) -> bool:
    return not turn.must_abstain and bool(
        (turn.gold is not None and turn.gold.span is not None)
        or turn.expect.get("passages_contain"))


def has_article_gold(turn: Turn) -> bool:
    return not turn.must_abstain and bool(turn.relevant_articles())


def article_ranking(passages: Sequence[dict[str, Any]]) -> list[str]:
    """Articles in the order of their best passage (MaxP)."""
    return list(dict.fromkeys(p["article_id"] for p in passages))


def _rank_metrics(flags: Sequence[bool], total: int, prefix: str) -> dict[str, float]:
    out: dict[str, float] = {}
    first = next((i for i, f in enumerate(flags) if f), None)
    for k in KS:
        found = sum(flags[:k])
        out[f"{prefix}_hit@{k}"] = float(found > 0)
        out[f"{prefix}_recall@{k}"] = found / total if total else 0.0
    out[f"{prefix}_mrr"] = 1.0 / (first + 1) if first is not None else 0.0
    return out


def retrieval_scores(turn: Turn, passages: Sequence[dict[str, Any]],
                     relevant_total: int | None) -> dict[str, float]:
    """Article- and passage-level hit@k, recall@k and reciprocal rank for one turn."""
    out: dict[str, float] = {}
    if has_article_gold(turn):
        rel = turn.relevant_articles()
        ranking = article_ranking(passages)
        out |= _rank_metrics([a in rel for a in ranking], len(rel), "article")
    if has_passage_gold(turn):
        flags = [passage_relevant(p, turn) for p in passages]
        total = relevant_total if relevant_total is not None else sum(flags)
        out |= _rank_metrics(flags, max(total, sum(flags)), "passage")
    return out


# ---------------------------------------------------------------- aggregation

def _mean(xs: Iterable[float]) -> float:
    xs = list(xs)
    return statistics.fmean(xs) if xs else math.nan


def pct(values: Sequence[float], q: float) -> float:
    """The benches' percentile; NaN (reported as null) when there is nothing to measure."""
    return percentile(values, q) if values else math.nan


def retrieval_metrics(rows: Sequence[tuple[Turn, Sequence[dict[str, Any]], int | None]]
                      ) -> dict[str, float]:
    per = [retrieval_scores(t, ps, n) for t, ps, n in rows]
    names = sorted({k for d in per for k in d})
    return {name: _mean(d[name] for d in per if name in d) for name in names}


def answer_metrics(results: Sequence[TurnResult], disclaimer: str) -> dict[str, float]:
    """All metrics of the system under test over ``results``."""
    asked = [r for r in results if r.answer is not None]
    m: dict[str, float] = {
        "turns": float(len(results)),
        "errors": float(sum(r.error is not None for r in results)),
        "expectation_pass_rate": _mean(float(r.passed) for r in results),
    }
    cases: dict[tuple[str, str], bool] = {}
    for r in results:
        cases[(r.suite, r.case)] = cases.get((r.suite, r.case), True) and r.passed
    m["followup_pass_rate"] = _mean(float(r.passed) for r in results if r.index > 0)
    m["cases"] = float(len(cases))
    m["case_pass_rate"] = _mean(float(v) for v in cases.values())
    m |= retrieval_metrics([(r.turn, r.answer["passages"], r.relevant_passages)
                            for r in asked if r.answer is not None])
    answered = [r for r in asked if r.answer is not None and not r.answer["abstained"]]
    m["citation_validity"] = _mean(float(citations_valid(r.answer)[0])
                                   for r in answered if r.answer is not None)
    sentences = [v for r in answered for v in r.verdicts]
    m["citation_recall"] = _mean(float(v["supported"]) for v in sentences)
    m["citation_precision"] = _mean(float(x) for v in sentences for x in v["precise"])
    m["unsupported_sentence_rate"] = _mean(float(not v["supported_by_any_passage"])
                                           for v in sentences)
    m["sentences"] = float(len(sentences))
    pos = [r for r in asked if r.turn.must_abstain]
    neg = [r for r in asked if r.turn.must_answer]
    tp = sum(bool(r.answer and r.answer["abstained"]) for r in pos)
    fp = sum(bool(r.answer and r.answer["abstained"]) for r in neg)
    m["abstention_precision"] = tp / (tp + fp) if tp + fp else math.nan
    m["abstention_recall"] = tp / len(pos) if pos else math.nan
    m["false_refusal_rate"] = fp / len(neg) if neg else math.nan
    follow = [r for r in asked if r.index > 0 and has_article_gold(r.turn)]
    m["followup_resolution"] = _mean(
        float(bool(r.turn.relevant_articles() & set(top_articles(r.answer["passages"]))))
        for r in follow if r.answer is not None)
    m["followup_turns"] = float(len(follow))
    disc = normalise(disclaimer)
    m["disclaimer_rate"] = _mean(
        float(disc in normalise(a.get("answer", "")) and normalise(a.get("disclaimer", "")) == disc)
        for a in (r.answer or {} for r in asked))
    if any(r.turn.expect.get("gold_start") for r in results):
        m["answer_gold_start"] = gold_start_rate(results, lambda r: r.failures)
    lat = [r.latency_ms for r in asked]
    m["latency_p50_ms"] = pct(lat, 0.5)
    m["latency_p95_ms"] = pct(lat, 0.95)
    return m


def phenomena(results: Sequence[TurnResult]) -> list[dict[str, Any]]:
    """Per tag (the phenomena a conversation is tagged with): its turns' expectation pass rate,
    ours and each answering baseline's. ``known-failure`` is not a phenomenon."""
    tags = sorted({t for r in results for t in r.turn_tags} - {KNOWN_FAILURE})
    rows = []
    for tag in tags:
        of = [r for r in results if tag in r.turn_tags]
        base = {b: _mean(float(not r.baseline_failures[b]) for r in of
                         if b in r.baseline_failures)
                for b in sorted({b for r in of for b in r.baseline_failures})}
        rows.append({"tag": tag, "turns": len(of),
                     "ours": _mean(float(r.passed) for r in of), "baselines": base})
    return rows


def metric_names() -> set[str]:
    """Every metric ``answer_metrics`` can report (retrieval ones only when a turn has gold)."""
    return (set(answer_metrics([], "")) | {"answer_gold_start"}
            | set(_rank_metrics([], 0, "article"))
            | set(_rank_metrics([], 0, "passage")))


def baseline_metrics(results: Sequence[TurnResult]) -> dict[str, dict[str, float]]:
    names = sorted({b for r in results for b in r.baselines})
    out = {b: retrieval_metrics([(r.turn, r.baselines[b], r.baseline_relevant.get(b))
                                 for r in results if b in r.baselines]) for b in names}
    for b in names:
        scored = [r for r in results if b in r.baseline_failures]
        if scored:
            out[b] |= answering_baseline_metrics(scored, b)
    return out


def answering_baseline_metrics(results: Sequence[TurnResult], b: str) -> dict[str, float]:
    """An answering baseline (naive-conversation) judged on every expectation, like ours."""
    ok = [not r.baseline_failures[b] for r in results]
    cases: dict[tuple[str, str], bool] = {}
    for r, passed in zip(results, ok, strict=True):
        cases[(r.suite, r.case)] = cases.get((r.suite, r.case), True) and passed
    refused = [any(f.startswith("abstained:") for f in r.baseline_failures[b])
               for r in results if r.turn.must_answer]
    out = {"expectation_pass_rate": _mean(float(x) for x in ok),
            "followup_pass_rate": _mean(float(x) for r, x in zip(results, ok, strict=True)
                                        if r.index > 0),
            "case_pass_rate": _mean(float(v) for v in cases.values()),
            "false_refusal_rate": _mean(float(x) for x in refused),
            "abstention_recall": _mean(float(not r.baseline_failures[b]) for r in results
                                       if r.turn.must_abstain)}
    if any(r.turn.expect.get("gold_start") for r in results):
        out["answer_gold_start"] = gold_start_rate(results, lambda r: r.baseline_failures[b])
    return out
