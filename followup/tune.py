"""``followup bench tune``: choose the fusion and second-stage weights on data.

Candidates are retrieved once per question with all their features (dense cosine, normalised
BM25, query-term coverage, title/section match); the weights are then searched on a grid,
re-scoring offline. Tuning sets: MedQuAD questions against their pages, and the even-numbered
COVID-QA questions (passage level); the odd-numbered half is held out and reported.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from followup.bench_ask import Query, _hit, _store, covidqa_queries
from followup.settings import Settings


def medquad_all_queries(folder: Path, pages: int, seed: int = 7) -> list[Query]:
    from followup.importers import discover, medquad_id

    files = [p for p in discover([folder]) if p.suffix == ".xml"]
    random.Random(seed).shuffle(files)
    out: list[Query] = []
    for path in files[:pages]:
        root = ET.parse(path).getroot()
        for pair in root.iter("QAPair"):
            q = " ".join((pair.findtext("Question") or "").split())
            if q and (pair.findtext("Answer") or "").strip():
                out.append(Query(q, medquad_id(path)))
    return out


def _features(retriever: Any, queries: Sequence[Query]) -> list[tuple[Query, list[Any]]]:
    return [(q, retriever.retrieve(q.text, 200)) for q in queries]


def _score(data: list[tuple[Query, list[Any]]], w: float, a: float, b: float, k: int) -> float:
    hits = 0
    for q, cands in data:
        ranked = sorted(cands, key=lambda p: w * p.dense + (1 - w) * p.lexical + a * p.coverage
                        + b * p.field, reverse=True)
        hits += _hit(ranked, q, k)
    return hits / max(1, len(data))


def bench_tune(args: argparse.Namespace) -> int:
    from followup.ask import Engine
    from retriever.hybrid import HybridRetriever

    datasets = Path(args.datasets)
    work = Path(args.workdir)
    grid_w = [0.3, 0.4, 0.5, 0.6, 0.7]
    grid_a = [0.0, 0.1, 0.2, 0.3, 0.5]
    grid_b = [0.0, 0.05, 0.1, 0.2]
    sets: dict[str, tuple[list[tuple[Query, list[Any]]], int]] = {}

    med = _store(work, "medquad", [str(datasets / "medquad")])
    engine = Engine(med)
    r = HybridRetriever(engine.store, engine.embedder, med)
    sets["medquad"] = (_features(r, medquad_all_queries(datasets / "medquad", args.pages)), 1)
    cov = _store(work, "covidqa", [str(datasets / "covid-qa" / "covidqa_dev.json")])
    engine = Engine(cov)
    r = HybridRetriever(engine.store, engine.embedder, cov)
    cq = covidqa_queries(datasets / "covid-qa" / "covidqa_dev.json")
    sets["covidqa-tune"] = (_features(r, cq[0::2]), 5)
    held = _features(r, cq[1::2])

    rows = []
    for w, a, b in itertools.product(grid_w, grid_a, grid_b):
        scores = {name: _score(data, w, a, b, k) for name, (data, k) in sets.items()}
        rows.append((sum(scores.values()) / len(scores), w, a, b, scores))
    rows.sort(key=lambda r: r[0], reverse=True)
    print("best weights (mean of MedQuAD article hit@1 and COVID-QA tuning-half hit@5):")
    for mean, w, a, b, scores in rows[:8]:
        print(f"  dense_weight={w:.2f} coverage_weight={a:.2f} field_weight={b:.2f}  "
              f"mean {mean:.3f}  " + "  ".join(f"{k} {v:.3f}" for k, v in scores.items()))
    _, w, a, b, _ = rows[0]
    held_hit = _score(held, w, a, b, 5)
    d = Settings()
    current = _score(held, d.dense_weight, d.coverage_weight, d.field_weight, 5)
    print(f"held-out COVID-QA half, hit@5 with the best weights: {held_hit:.3f}; with the "
          f"current defaults: {current:.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"best": {"dense_weight": w,
                                                        "coverage_weight": a,
                                                        "field_weight": b},
                                               "held_out_covidqa_hit@5": held_hit}, indent=2))
    return 0


def load_abstention_set(path: Path) -> tuple[list[tuple[str, str]], list[str]]:
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [tuple(x) for x in data["answerable"]], list(data["unanswerable"])


def bench_abstain(args: argparse.Namespace) -> int:
    """Calibrate the answering gate: which thresholds refuse the unanswerable questions and
    answer the answerable ones (sample corpus, tests/data/abstention.yaml)."""
    from followup.ask import Engine

    answerable, unanswerable = load_abstention_set(Path(args.abstention_set))
    settings = _store(Path(args.workdir), "sample", ["corpus"])
    engine = Engine(settings)
    feats: list[tuple[bool, list[Any]]] = []
    for q, _ in answerable:
        feats.append((True, engine.retriever.retrieve(q, settings.passages_k)))
    for q in unanswerable:
        feats.append((False, engine.retriever.retrieve(q, settings.passages_k)))

    def decide(passages: list[Any], cov: float, dense: float, strong: float) -> bool:
        return any((p.coverage >= cov and p.dense >= dense) or p.dense >= strong
                   for p in passages)

    rows = []
    for cov, dense, strong in itertools.product([0.3, 0.4, 0.5, 0.6, 0.7],
                                                [0.2, 0.25, 0.3, 0.35, 0.4, 0.45],
                                                [0.55, 0.6, 0.65, 0.7, 0.75, 1.1]):
        answered = [decide(p, cov, dense, strong) for ok, p in feats if ok]
        refused = [not decide(p, cov, dense, strong) for ok, p in feats if not ok]
        recall = sum(refused) / len(refused)
        false_refusal = 1 - sum(answered) / len(answered)
        rows.append((recall >= 0.95, -false_refusal, recall, cov, dense, strong))
    rows.sort(reverse=True)
    print(f"abstention calibration on {len(answerable)} answerable and {len(unanswerable)} "
          "unanswerable questions (sample corpus):")
    for _ok, neg_fr, recall, cov, dense, strong in rows[:6]:
        print(f"  min_coverage={cov} min_dense={dense} strong_dense={strong}: abstention "
              f"recall {recall:.3f}, false refusals {-neg_fr:.3f}")
    s = settings
    answered = [decide(p, s.answer_min_coverage, s.answer_min_dense, s.answer_strong_dense)
                for ok, p in feats if ok]
    refused = [not decide(p, s.answer_min_coverage, s.answer_min_dense, s.answer_strong_dense)
               for ok, p in feats if not ok]
    print(f"current settings: abstention recall {sum(refused) / len(refused):.3f}, "
          f"false refusals {1 - sum(answered) / len(answered):.3f}")
    return 0
