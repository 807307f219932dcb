"""Run suites against the system (in-process, or a deployed chat via ``/ask``) and judge them.

A suite with a ``corpus`` is answered from its own store in ``settings.eval_dir``, named by a hash
of the corpus's content, so a second run (or a byte-identical copy of the corpus elsewhere) embeds
nothing; an edited corpus takes over its previous store and only what changed is embedded. With
``--store``/``--chroma-url`` the suites' corpora go into that store instead, and suites
without a corpus use it as it is.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from followup.errors import FingerprintMismatchError, UsageError
from followup.evals.judge import Judge, SupportJudge
from followup.evals.metrics import (
    TurnResult,
    answer_metrics,
    baseline_metrics,
    check_expectations,
    has_passage_gold,
    judge_sentences,
    metric_names,
    passage_relevant,
    phenomena,
)
from followup.evals.suite import Case, Suite, Turn
from followup.prompts import disclaimer
from followup.settings import Settings


class EvalError(UsageError):
    """The evaluation cannot run as asked (target unreachable, bad --min, …)."""


class Target(Protocol):
    name: str

    def ask(self, question: str, history: list[dict[str, Any]], audience: str
            ) -> dict[str, Any]: ...


class EngineTarget:
    """The answering engine in this process."""

    def __init__(self, engine: Any, name: str) -> None:
        self.engine, self.name = engine, name
        self._chunks: dict[str, list[dict[str, Any]]] = {}
        self._all: list[dict[str, Any]] | None = None

    def ask(self, question: str, history: list[dict[str, Any]], audience: str
            ) -> dict[str, Any]:
        answer: dict[str, Any] = self.engine.ask(question, json.dumps(history),
                                                 audience).to_json()
        return answer

    def refresh(self) -> None:
        """Pick up a store that was ingested into since: the index and the passage pools."""
        self.engine.retriever.refresh()
        self._chunks.clear()
        self._all = None

    def pool(self, article_ids: set[str]) -> list[dict[str, Any]]:
        """The index's passages of these articles (all passages when none are named)."""
        if not article_ids:
            if self._all is None:
                self._all = [_chunk_json(c) for c in self.engine.store.iter_chunks()]
            return self._all
        out: list[dict[str, Any]] = []
        for a in sorted(article_ids):
            if a not in self._chunks:
                self._chunks[a] = [_chunk_json(c) for c in self.engine.store.article_chunks(a)]
            out.extend(self._chunks[a])
        return out


def _chunk_json(c: Any) -> dict[str, Any]:
    return {"chunk_id": c.id, "article_id": c.article_id, "text": c.text, "start": c.start,
            "end": c.end}


class RemoteTarget:
    """A running chat, through its ``/ask`` endpoint (gradio_client)."""

    def __init__(self, url: str) -> None:
        from urllib.parse import urlparse

        from gradio_client import Client

        self.name = url
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            # gradio_client would take any other text for a Hugging Face Space name
            raise EvalError(f"--url must be the chat's address, like http://127.0.0.1:7860/, "
                            f"not {url!r}")
        try:
            self.client = Client(url, verbose=False, download_files=False)
        except Exception as exc:
            raise EvalError(
                f"cannot reach the chat at {url} ({type(exc).__name__}: {str(exc)[:160]}); "
                "is it running (followup chat) and is the address right?") from None

    def ask(self, question: str, history: list[dict[str, Any]], audience: str
            ) -> dict[str, Any]:
        result = self.client.predict(question, json.dumps(history), audience, api_name="/ask")
        if isinstance(result, str):
            result = json.loads(result)
        if not isinstance(result, dict):
            raise EvalError(f"{self.name}/ask returned {type(result).__name__}, not the answer "
                            "object")
        return result


@dataclass
class Run:
    suites: list[Suite]
    results: list[TurnResult]
    target: str
    judge: str
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    judge_calibration: dict[str, Any] | None = None

    def of(self, pattern: str | None) -> list[TurnResult]:
        """Results of the suites whose name or path matches ``pattern`` (all when None)."""
        if not pattern:
            return self.results
        names = {s.name for s in matching_suites(self.suites, pattern)}
        return [r for r in self.results if r.suite in names]

    def metrics(self, pattern: str | None = None) -> dict[str, float]:
        return answer_metrics(self.of(pattern), disclaimer())

    def baselines(self, pattern: str | None = None) -> dict[str, dict[str, float]]:
        return baseline_metrics(self.of(pattern))

    def cases(self) -> list[dict[str, Any]]:
        out: dict[tuple[str, str], dict[str, Any]] = {}
        for r in self.results:
            c = out.setdefault((r.suite, r.case), {"suite": r.suite, "id": r.case,
                                                    "audience": r.audience, "passed": True,
                                                    "known_failure": r.known_failure,
                                                    "turns": []})
            c["passed"] = c["passed"] and r.passed
            a = r.answer or {}
            c["turns"].append({
                "ask": r.turn.ask, "standalone_question": a.get("standalone_question"),
                "abstained": a.get("abstained"), "failures": r.failures + (
                    [f"error: {r.error}"] if r.error else []),
                "latency_ms": round(r.latency_ms, 1), "expect": r.turn.expect,
                "answer": a.get("answer"), "references": a.get("references", []),
                "passages": [{k: p.get(k) for k in ("chunk_id", "article_id", "section",
                                                    "text", "score")}
                             for p in a.get("passages", [])[:5]],
                "verdicts": r.verdicts,
                "baselines": {b: [p["article_id"] for p in ps[:5]]
                              for b, ps in r.baselines.items()},
                "baseline_failures": r.baseline_failures,
            })
        return list(out.values())

    def to_json(self) -> dict[str, Any]:
        cases = self.cases()
        return _clean({
            "metrics": self.metrics(),
            "baselines": self.baselines(),
            "suites": {s.name: {
                "path": str(s.path),
                "cases": len(s.cases),
                "passed": sum(c["passed"] for c in cases if c["suite"] == s.name),
                "metrics": answer_metrics([r for r in self.results if r.suite == s.name],
                                          disclaimer()),
                "baselines": baseline_metrics([r for r in self.results if r.suite == s.name]),
                "phenomena": phenomena([r for r in self.results if r.suite == s.name]),
            } for s in self.suites},
            "cases": cases,
            "run": {"target": self.target, "judge": self.judge, "seconds": self.seconds,
                    "notes": self.notes},
            "judge_calibration": self.judge_calibration,
        })


def matching_suites(suites: Sequence[Suite], pattern: str) -> list[Suite]:
    """The suites whose name, path or file name matches the glob ``pattern``."""
    return [s for s in suites
            if fnmatch.fnmatch(s.name, pattern) or fnmatch.fnmatch(str(s.path), pattern)
            or fnmatch.fnmatch(s.path.name, pattern)]


def _clean(x: Any) -> Any:
    """NaN (a metric with nothing to measure) as null, so the JSON is standard."""
    if isinstance(x, float) and x != x:
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_clean(v) for v in x]
    return x


def corpus_key(corpus: Sequence[Path]) -> str:
    """A hash of the corpus's content: each file ingest reads (``importers.discover``), by its
    place (which corpus path, its path relative to it) and its bytes. A byte-identical copy in
    another folder has the same key; an edit, a new, renamed or removed file changes it.
    (MedQuAD's 5,497 files, 27 MB: 0.1-0.35 s with the files in the page cache, 0.7 s on a
    first read.)"""
    from followup.importers import discover

    h = hashlib.sha256()
    for i, root in enumerate(corpus):
        for f in discover([root]):
            rel = f.name if root.is_file() else f.relative_to(root).as_posix()
            data = f.read_bytes()
            h.update(f"{i}\0{rel}\0{len(data)}\0".encode())
            h.update(data)
    return h.hexdigest()[:16]


def _slug(corpus: Sequence[Path]) -> str:
    return re.sub(r"[^a-zA-Z0-9]+", "-", corpus[0].name).strip("-") or "corpus"


def corpus_store(settings: Settings, corpus: Sequence[Path], key: str | None = None) -> Path:
    """The cached store of a corpus, named by its content (``corpus_key``)."""
    return settings.eval_dir / f"{_slug(corpus)}-{key or corpus_key(corpus)}"


def legacy_corpus_store(settings: Settings, corpus: Sequence[Path]) -> Path:
    """Where stores were cached before they were keyed by content (by the corpus paths)."""
    key = hashlib.sha256("\n".join(sorted(str(p) for p in corpus)).encode()).hexdigest()[:10]
    return settings.eval_dir / f"{_slug(corpus)}-{key}"


def _sidecar(store: Path) -> Path:
    """Beside a cached store: the corpus paths it was built from (its articles' source paths)."""
    return store.with_name(store.name + ".corpus.json")


def _previous_store(settings: Settings, corpus: Sequence[Path]) -> Path | None:
    """A cached store last ingested from these same paths (before they were edited), else the
    store the path-keyed cache used: reused, an edited corpus is re-ingested incrementally."""
    paths = [str(p) for p in corpus]
    found: list[tuple[float, Path]] = []
    for side in settings.eval_dir.glob("*.corpus.json"):
        try:
            same = json.loads(side.read_text(encoding="utf-8")).get("paths") == paths
        except (OSError, ValueError, AttributeError):
            continue
        store = side.with_name(side.name.removesuffix(".corpus.json"))
        if same and store.is_dir():
            found.append((side.stat().st_mtime, store))
    if found:
        return max(found)[1]
    legacy = legacy_corpus_store(settings, corpus)
    return legacy if legacy.is_dir() and not _sidecar(legacy).exists() else None


class Runner:
    """Holds the engines (one per store) and the baselines while suites run."""

    def __init__(self, settings: Settings, *, url: str | None = None,
                 explicit_store: bool = False, baselines: bool = False,
                 judge: Judge | None = None, log: Callable[[str], None] = print) -> None:
        self.settings, self.url, self.explicit_store = settings, url, explicit_store
        self.want_baselines, self.judge, self.log = baselines, judge or SupportJudge(), log
        self._engines: dict[str, EngineTarget] = {}
        self._embedder: Any = None
        self._remote: RemoteTarget | None = None
        self._baselines: dict[tuple[Any, ...], list[Any]] = {}
        self._ingested: set[tuple[str, tuple[str, ...]]] = set()  # (store, corpus) this run
        self._stores: dict[tuple[str, ...], Path] = {}  # corpus paths -> store, hashed once
        self.notes: list[str] = []

    # -- targets
    def embedder(self) -> Any:
        if self._embedder is None:
            from followup.embedders import get_embedder

            self._embedder = get_embedder(self.settings)
        return self._embedder

    def corpus_store(self, suite: Suite) -> Path:
        """The suite's cached store, named by its corpus's content (hashed once per run)."""
        paths = tuple(str(p) for p in suite.corpus)
        if paths not in self._stores:
            self._stores[paths] = corpus_store(self.settings, suite.corpus)
        return self._stores[paths]

    def _settings_for(self, suite: Suite) -> Settings:
        if suite.corpus and not self.explicit_store:
            return self.settings.model_copy(update={
                "store_dir": self.corpus_store(suite), "chroma_url": None})
        return self.settings

    def _reuse_previous(self, suite: Suite, store: Path) -> None:
        """No store for this content yet: take over the one these paths had (the corpus was
        edited, or it was cached by path), so only what changed is embedded."""
        if store.exists():
            return
        previous = _previous_store(self.settings, suite.corpus)
        if previous is None:
            return
        previous.rename(store)
        _sidecar(previous).unlink(missing_ok=True)
        self.log(f"  {suite.name}: corpus changed since {previous.name} was built; "
                 "re-ingesting what changed")

    def _ingest(self, suite: Suite, settings: Settings) -> None:
        from followup.ingest import ingest

        paths = [str(p) for p in suite.corpus]
        cached = not self.explicit_store  # a store of ours: prune articles the corpus lost
        # A store built (or taken over) now holds these paths' files; a store found by content
        # may have been built from an identical copy elsewhere and keeps that copy's paths.
        new = cached and not settings.store_dir.exists()
        if cached:
            self._reuse_previous(suite, settings.store_dir)
        try:
            report = ingest(paths, settings, embedder=self.embedder(), prune=cached)
        except FingerprintMismatchError:
            if self.explicit_store:
                raise
            self.log(f"  {suite.name}: cached store built with another model/chunker; "
                     "rebuilding it")
            report = ingest(paths, settings, embedder=self.embedder(), rebuild=True)
        if new:
            _sidecar(settings.store_dir).write_text(json.dumps({"paths": paths}),
                                                    encoding="utf-8")
        if report.failed:
            self.notes.append(f"{suite.name}: {len(report.failed)} corpus file(s) failed to "
                              "ingest and were skipped")
            for item in report.failed[:5]:
                self.log(f"  ingest failed: {item}")
        self.log(f"  {suite.name}: corpus {report.articles} articles "
                 f"({report.added} embedded now) in {report.seconds:.1f} s")

    def target(self, suite: Suite) -> Target:
        if self.url:
            if self._remote is None:
                self._remote = RemoteTarget(self.url)
            if suite.corpus:
                self.notes.append(f"{suite.name}: corpus not ingested: the chat at {self.url} "
                                  "answers from its own store")
            return self._remote
        settings = self._settings_for(suite)
        key = str(settings.chroma_url or settings.store_dir.resolve())
        corpus = (key, tuple(str(p) for p in suite.corpus))
        fresh = bool(suite.corpus) and corpus not in self._ingested
        if fresh:  # once per run: the suites of one corpus (or the cases, under pytest) share it
            self._ingest(suite, settings)
            self._ingested.add(corpus)
        if key not in self._engines:
            from followup.answering.engine import Engine

            self._engines[key] = EngineTarget(
                Engine(settings, embedder=self.embedder()), key)
        elif fresh:
            self._engines[key].refresh()
        return self._engines[key]

    def baselines_for(self, suite: Suite, target: Target) -> list[Any]:
        if not self.want_baselines:
            return []
        cache_key = (target.name, tuple(str(p) for p in suite.corpus), suite.baselines)
        if cache_key in self._baselines:
            return self._baselines[cache_key]
        from followup.evals.baselines import LangChainDefault, NaiveConversation, StoreBaseline

        out: list[Any] = []
        if isinstance(target, EngineTarget):
            out += [StoreBaseline(m, target.engine, m) for m in ("bm25", "dense")
                    if m in suite.baselines]
            if "naive-conversation" in suite.baselines:
                out.append(NaiveConversation(target.engine, disclaimer()))
        else:
            self.notes.append(f"{suite.name}: bm25/dense baselines need a local store "
                              "(not with --url)")
        if "langchain-default" in suite.baselines and suite.corpus:
            folder = self.settings.eval_dir / f"lc-{self.corpus_store(suite).name}"
            old = legacy_corpus_store(self.settings, suite.corpus)
            legacy = self.settings.eval_dir / f"lc-{old.name}"
            if not folder.exists() and legacy.is_dir():  # built when stores were keyed by path
                legacy.rename(folder)
            out.append(LangChainDefault(folder, suite.corpus, self.embedder()))
        elif "langchain-default" in suite.baselines:
            self.notes.append(f"{suite.name}: the langchain-default baseline needs the "
                              "suite's corpus")
        self._baselines[cache_key] = out
        return out

    # -- running
    def run_case(self, suite: Suite, case: Case, target: Target,
                 baselines: Sequence[Any] = ()) -> list[TurnResult]:
        """Every turn of one case; an error ends the case (the history would be wrong), never
        the run."""
        history: list[dict[str, Any]] = []
        user_turns: list[str] = []  # what an answering baseline sees of the conversation
        out: list[TurnResult] = []
        for i, turn in enumerate(case.turns):
            r = TurnResult(suite.name, case.id, i, turn, case.audience,
                           known_failure=case.known_failure, turn_tags=case.tags)
            out.append(r)
            t0 = time.perf_counter()
            try:
                r.answer = target.ask(turn.ask, history, case.audience)
            except EvalError:
                raise
            except Exception as exc:  # one failing case never stops the others
                r.error = f"{type(exc).__name__}: {exc}"
                r.latency_ms = (time.perf_counter() - t0) * 1e3
                break
            r.latency_ms = (time.perf_counter() - t0) * 1e3
            r.failures = check_expectations(turn, r.answer)
            r.verdicts = judge_sentences(r.answer, self.judge)
            r.relevant_passages = self._relevant(turn, target)
            standalone = r.answer.get("standalone_question") or turn.ask
            for b in baselines:
                if hasattr(b, "answer"):  # an answering baseline, judged on every expectation
                    b_answer = b.answer(turn.ask, user_turns)
                    r.baselines[b.name] = b_answer["passages"]
                    r.baseline_failures[b.name] = check_expectations(turn, b_answer)
                    r.baseline_relevant[b.name] = r.relevant_passages
                    continue
                r.baselines[b.name] = b.retrieve(standalone)
                pool = b.relevant_pool(turn.relevant_articles()) if has_passage_gold(
                    turn) else None
                r.baseline_relevant[b.name] = (
                    sum(passage_relevant(p, turn) for p in pool) if pool is not None
                    else r.relevant_passages)
            user_turns.append(turn.ask)
            history += [{"role": "user", "content": turn.ask},
                        {"role": "assistant", "content": r.answer.get("answer", ""),
                         "metadata": {"cited_articles": r.answer.get("cited_articles", [])}}]
        return out

    @staticmethod
    def _relevant(turn: Turn, target: Target) -> int | None:
        if not has_passage_gold(turn) or not isinstance(target, EngineTarget):
            return None
        return sum(passage_relevant(p, turn) for p in target.pool(turn.relevant_articles()))

    def run(self, suites: Sequence[Suite]) -> Run:
        t0 = time.perf_counter()
        results: list[TurnResult] = []
        for suite in suites:
            self.log(f"suite {suite.name} ({len(suite.cases)} cases, {suite.path})")
            target = self.target(suite)
            baselines = self.baselines_for(suite, target)
            started = time.perf_counter()
            for n, case in enumerate(suite.cases, 1):
                results.extend(self.run_case(suite, case, target, baselines))
                if n % 100 == 0:
                    self.log(f"  {n}/{len(suite.cases)} cases "
                             f"({time.perf_counter() - started:.0f} s)")
        store = (str(self.settings.chroma_url or self.settings.store_dir)
                 if self.explicit_store else "suite stores")
        name = self.url or f"in-process, {store}"
        return Run(list(suites), results, name, self.judge.name,
                   time.perf_counter() - t0, self.notes)


# ---------------------------------------------------------------- thresholds and table

@dataclass(frozen=True)
class Threshold:
    pattern: str | None
    metric: str
    value: float
    at_most: bool = False

    def __str__(self) -> str:
        scope = f"{self.pattern}:" if self.pattern else ""
        return f"{scope}{self.metric} {'≤' if self.at_most else '≥'} {self.value:g}"


_THRESHOLD = re.compile(r"^(?:(?P<pattern>[^:=]+):)?(?P<metric>[A-Za-z0-9_@.]+)=(?P<value>.+)$")


def parse_threshold(text: str, at_most: bool = False) -> Threshold:
    m = _THRESHOLD.match(text.strip())
    try:
        value = float(m.group("value")) if m else None
    except ValueError:
        value = None
    if not m or value is None:
        raise EvalError(f"--{'max' if at_most else 'min'} {text!r}: write [SUITE_GLOB:]"
                        "METRIC=VALUE, e.g. citation_recall=0.95 or covidqa:passage_hit@5=0.85")
    return Threshold(m.group("pattern"), m.group("metric"), value, at_most)


def validate_thresholds(thresholds: Sequence[Threshold], suites: Sequence[Suite]) -> None:
    """Before anything runs: every metric exists and every SUITE_GLOB matches a loaded suite."""
    known = metric_names()
    for t in thresholds:
        if t.metric not in known:
            raise EvalError(f"{t}: unknown metric {t.metric!r} (known: "
                            f"{', '.join(sorted(known))})")
        if t.pattern and not matching_suites(suites, t.pattern):
            raise EvalError(f"{t}: no suite matches {t.pattern!r} (suites: "
                            f"{', '.join(s.name for s in suites)}); the glob matches suite "
                            "names, paths or file names")


def check_thresholds(run: Run, thresholds: Sequence[Threshold]) -> list[str]:
    """Each threshold not met, as a line (a metric with nothing to measure is not met)."""
    validate_thresholds(thresholds, run.suites)
    failed: list[str] = []
    for t in thresholds:
        v = run.metrics(t.pattern).get(t.metric, math.nan)
        ok = v == v and (v <= t.value if t.at_most else v >= t.value)
        if not ok:
            failed.append(f"{t}: got {v:.4g}")
    return failed


SHOWN = ("expectation_pass_rate", "followup_pass_rate", "case_pass_rate",
         "article_hit@1", "article_hit@5", "article_recall@5", "article_mrr",
         "passage_hit@1", "passage_hit@5", "passage_recall@5", "passage_mrr",
         "citation_validity", "citation_recall", "citation_precision",
         "unsupported_sentence_rate", "abstention_precision", "abstention_recall",
         "false_refusal_rate", "followup_resolution", "answer_gold_start", "disclaimer_rate",
         "latency_p50_ms", "latency_p95_ms")


def _cell(v: float | None) -> str:
    if v is None or v != v:
        return "—"
    return f"{v:.0f}" if abs(v) >= 100 else f"{v:.3f}"


def _phenomenon_lines(rows: Sequence[TurnResult], width: int) -> list[str]:
    """Rows of expectation pass rate per phenomenon (case tags), ours beside the answering
    baselines; none when no case is tagged."""
    found = phenomena(rows)
    if not found:
        return []
    names = sorted({b for p in found for b in p["baselines"]})
    out = [f"  {'by phenomenon (turns)':28}" + "".join(f"{c:>{width}}" for c in
                                                      ["ours", *names])]
    for p in found:
        label = f"{p['tag']} ({p['turns']})"
        out.append(f"    {label:26}" + "".join(
            f"{_cell(x):>{width}}" for x in [p["ours"], *(p["baselines"].get(b) for b in names)]))
    return out


def table(run: Run) -> str:
    """Per suite and overall: our metrics with the baselines side by side."""
    blocks: list[str] = []
    groups = [(s.name, [s.name]) for s in run.suites]
    if len(run.suites) > 1:
        groups.append(("all suites", [s.name for s in run.suites]))
    for title, names in groups:
        rows = [r for r in run.results if r.suite in names]
        ours = answer_metrics(rows, disclaimer())
        base = baseline_metrics(rows)
        cases = {(r.suite, r.case) for r in rows}
        failed = {(r.suite, r.case) for r in rows if not r.passed}
        cols = ["ours", *base]
        width = max(14, *(len(c) + 2 for c in cols))
        head = f"{title}: {len(cases) - len(failed)}/{len(cases)} cases passed, " \
               f"{len(rows)} turns"
        lines = [head, f"  {'metric':28}" + "".join(f"{c:>{width}}" for c in cols)]
        for name in SHOWN:
            v = ours.get(name)
            bvals = [base[b].get(name) for b in base]
            if (v is None or v != v) and all(x is None or x != x for x in bvals):
                continue
            lines.append(f"  {name:28}" + "".join(f"{_cell(x):>{width}}" for x in [v, *bvals]))
        lines += _phenomenon_lines(rows, width)
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def gating_failures(run: Run, allow_known: bool = False) -> tuple[list[str], list[str]]:
    """(cases that fail and gate the run, known failures that now pass).

    A failing case tagged ``known-failure`` gates the run like any other (the contract: exit 1
    when a case fails) unless ``allow_known`` (``--allow-known-failures``) exempts it."""
    cases = run.cases()
    failing = [f"{c['suite']} / {c['id']}" + (" (known failure)" if c["known_failure"] else "")
               for c in cases
               if not c["passed"] and not (allow_known and c["known_failure"])]
    fixed = [f"{c['suite']} / {c['id']}" for c in cases if c["passed"] and c["known_failure"]]
    return failing, fixed


def failures_text(run: Run, limit: int = 30) -> str:
    out: list[str] = []
    for r in run.results:
        if r.passed:
            continue
        for f in r.failures + ([f"error: {r.error}"] if r.error else []):
            tag = "KNOWN" if r.known_failure else "FAIL"
            out.append(f"  {tag} {r.suite} / {r.case} / turn {r.index + 1} ({r.turn.ask!r}): {f}")
    if len(out) > limit:
        out = [*out[:limit], f"  … and {len(out) - limit} more (see --json / --report)"]
    return "\n".join(out)
