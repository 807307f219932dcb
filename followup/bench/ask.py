"""``followup bench ask``: answering latency on the MedQuAD store and retrieval quality on
PubMedQA and COVID-QA, against LangChain's default path, dense only and BM25 only, in one run.

Stores are kept in ``--workdir`` (default ``.followup/bench``) and re-used: ingest is
incremental, so a second run embeds nothing.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from followup.bench import write_figures
from followup.errors import UsageError
from followup.settings import Settings
from followup.stats import percentile


@dataclass(frozen=True)
class Query:
    text: str
    article_id: str
    span: tuple[int, int] | None = None  # gold answer span in the article's source text


def pubmedqa_queries(path: Path) -> list[Query]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return [Query(rec["QUESTION"], f"pubmedqa-{pmid}") for pmid, rec in data.items()]


def covidqa_queries(path: Path) -> list[Query]:
    from followup.importers import covidqa_answer_span

    data = json.loads(path.read_text(encoding="utf-8"))
    out: list[Query] = []
    for doc in data["data"]:
        for para in doc["paragraphs"]:
            for qa in para["qas"]:
                for ans in qa.get("answers", [])[:1]:
                    span = covidqa_answer_span(para["context"], int(ans["answer_start"]),
                                               ans["text"])
                    out.append(Query(qa["question"], f"covidqa-{para['document_id']}", span))
    return out


def covidqa_halves(queries: Sequence[Query], seed: int = 2026) -> tuple[list[Query], list[Query]]:
    """A fixed random half of the COVID-QA questions to tune on, and the other half held out."""
    order = list(range(len(queries)))
    random.Random(seed).shuffle(order)
    half = len(order) // 2
    return ([queries[i] for i in sorted(order[:half])],
            [queries[i] for i in sorted(order[half:])])


def medquad_queries(folder: Path, limit: int) -> list[Query]:
    from followup.importers import discover, medquad_id

    out: list[Query] = []
    for path in discover([folder]):
        if path.suffix != ".xml":
            continue
        root = ET.parse(path).getroot()
        for pair in root.iter("QAPair"):
            q = " ".join((pair.findtext("Question") or "").split())
            if q and (pair.findtext("Answer") or "").strip():
                out.append(Query(q, medquad_id(path)))
                break
        if len(out) >= limit:
            break
    return out


def _store(work: Path, name: str, sources: Sequence[str]) -> Settings:
    from followup.ingest import ingest

    settings = Settings(store_dir=work / name, progress=True)
    report = ingest(sources, settings)
    if report.failed:
        raise UsageError(f"bench store {name}: {report.failed[:3]}")
    print(f"  store {name}: {report.articles} articles, {report.chunks} chunks "
          f"({report.added} embedded now, {report.seconds:.0f} s)", flush=True)
    return settings


def _hit(passages: Sequence[Any], q: Query, k: int) -> bool:
    for p in passages[:k]:
        c = p.chunk
        if c.article_id != q.article_id:
            continue
        if q.span is None or (c.start <= q.span[0] and q.span[1] <= c.end):
            return True
    return False


def evaluate(retrieve: Callable[[str], Sequence[Any]], queries: Sequence[Query],
             ks: Sequence[int]) -> dict[str, float]:
    hits = {k: 0 for k in ks}
    for q in queries:
        got = retrieve(q.text)
        for k in ks:
            hits[k] += _hit(got, q, k)
    return {f"hit@{k}": hits[k] / max(1, len(queries)) for k in ks}


class _LCPassage:
    """A LangChain document seen as a passage (article id and span from its metadata)."""

    def __init__(self, doc: Any) -> None:
        from followup.chunks import Chunk

        start = int(doc.metadata["start_index"])
        self.chunk = Chunk(id="", article_id=doc.metadata["article_id"], article_hash="",
                           title="", section="", kind="section", ordinal=0,
                           sentences=(_span_sentence(doc.page_content, start),), references={})


def _span_sentence(text: str, start: int) -> Any:
    from followup.articles import Sentence

    return Sentence(text, (), start, start + len(text))


def langchain_default(work: Path, name: str, sources: Sequence[str]) -> Callable[[str], list]:
    """RecursiveCharacterTextSplitter(1000, 200) + Chroma similarity k=4, our model."""
    from followup.embedders import get_embedder
    from followup.retriever.langchain_adapter import default_chroma

    db = default_chroma(work / f"lc-{name}", sources, get_embedder(Settings()))
    return lambda q: [_LCPassage(d) for d in db.similarity_search(q, k=4)]


def bench_ask(args: argparse.Namespace) -> int:
    from followup.answering.engine import Engine
    from followup.retriever.hybrid import HybridRetriever, Mode
    from followup.store import open_store

    datasets = Path(args.datasets)
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    figures: dict[str, Any] = {}
    print("bench ask", flush=True)

    # ---- retrieval quality, with baselines in the same run
    for name, source, queries, ks in () if args.latency_only else (
        ("pubmedqa", datasets / "pubmedqa" / "pqal_dev.json",
         pubmedqa_queries(datasets / "pubmedqa" / "pqal_dev.json"), (1, 5)),
        ("covidqa", datasets / "covid-qa" / "covidqa_dev.json",
         covidqa_queries(datasets / "covid-qa" / "covidqa_dev.json"), (1, 4, 5)),
    ):
        if args.limit:
            queries = queries[: args.limit]
        settings = _store(work, name, [str(source)])
        engine = Engine(settings)
        rows: dict[str, dict[str, float]] = {}
        modes: tuple[Mode, ...] = ("hybrid", "bm25", "dense")
        for mode in modes:
            r = HybridRetriever(engine.store, engine.embedder, settings, mode=mode)
            rows[mode] = evaluate(r.retrieve, queries, ks)
        rows["langchain-default (k=4)"] = evaluate(
            langchain_default(work, name, [str(source)]), queries, [k for k in ks if k <= 4])
        if name == "covidqa" and not args.limit:
            tune_half, held_half = covidqa_halves(queries)
            r = HybridRetriever(engine.store, engine.embedder, settings)
            rows["hybrid, tuning half"] = evaluate(r.retrieve, tune_half, ks)
            rows["hybrid, held-out half"] = evaluate(r.retrieve, held_half, ks)
        figures[name] = {"queries": len(queries), **rows}
        print(f"\n  {name}: {len(queries)} questions")
        header = "".join(f"{'hit@' + str(k):>10}" for k in ks)
        print(f"  {'':26}{header}")
        for row, vals in rows.items():
            cells = "".join(f"{vals.get(f'hit@{k}', float('nan')):>10.3f}" for k in ks)
            print(f"  {row:26}{cells}", flush=True)

    # ---- latency, warm, in-process, extractive, on the MedQuAD store
    settings = _store(work, "medquad", [str(datasets / "medquad")])
    engine = Engine(settings)
    queries = medquad_queries(datasets / "medquad", args.latency_questions)
    engine.ask(queries[0].text)  # warm-up
    stages: dict[str, list[float]] = {}
    hits = 0
    for q in queries:
        answer = engine.ask(q.text)
        hits += any(p.chunk.article_id == q.article_id for p in answer.passages[:5])
        for stage, ms in answer.timings_ms.items():
            stages.setdefault(stage, []).append(ms)
    figures["latency_ms"] = {
        stage: {"p50": percentile(v, 0.5), "p95": percentile(v, 0.95), "mean": statistics.fmean(v)}
        for stage, v in stages.items()
    }
    figures["medquad"] = {"articles": len(open_store(settings).manifest()),
                          "questions": len(queries), "article_hit@5": hits / len(queries)}
    print(f"\n  latency on MedQuAD ({figures['medquad']['articles']} articles, "
          f"{len(queries)} questions, torch threads {settings.query_threads}):")
    for stage, v in figures["latency_ms"].items():
        print(f"    {stage:14} p50 {v['p50']:7.1f} ms   p95 {v['p95']:7.1f} ms")
    print(f"    article hit@5 of the page's first question: "
          f"{figures['medquad']['article_hit@5']:.3f}")
    write_figures(args.json, figures, announce=True)
    return 0

