"""``followup bench tune``: choose the fusion and second-stage weights on data.

Candidates are retrieved once per question with all their features (dense cosine, normalised
BM25, query-term coverage, title/section match, sentence-window coverage, phrase match); the
weights are then searched on a grid, re-scoring offline. Tuning sets: MedQuAD questions against
their pages, and a fixed random half of COVID-QA (passage level); the other half is held out
and reported.
"""

from __future__ import annotations

import argparse
import itertools
import random
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from followup.bench import write_figures
from followup.bench.ask import Query, _hit, _store, covidqa_halves, covidqa_queries
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


Weights = tuple[float, float, float, float, float]  # dense, coverage, field, window, phrase


def _score(data: list[tuple[Query, list[Any]]], weights: Weights, k: int) -> float:
    w, a, b, c, d = weights
    hits = 0
    for q, cands in data:
        ranked = sorted(cands, key=lambda p: w * p.dense + (1 - w) * p.lexical + a * p.coverage
                        + b * p.field + c * p.window + d * p.phrase, reverse=True)
        hits += _hit(ranked, q, k)
    return hits / max(1, len(data))


def bench_tune(args: argparse.Namespace) -> int:
    from followup.answering.engine import Engine
    from followup.retriever.hybrid import HybridRetriever

    datasets = Path(args.datasets)
    work = Path(args.workdir)
    grid: list[Weights] = list(itertools.product(
        [0.5, 0.6, 0.7, 0.8, 0.9],  # dense
        [0.1, 0.2],  # coverage
        [0.0, 0.1],  # field
        [0.0, 0.2, 0.4, 0.6],  # window
        [0.0, 0.1, 0.2],  # phrase
    ))
    sets: dict[str, tuple[list[tuple[Query, list[Any]]], int]] = {}

    med = _store(work, "medquad", [str(datasets / "medquad")])
    engine = Engine(med)
    r = HybridRetriever(engine.store, engine.embedder, med)
    sets["medquad"] = (_features(r, medquad_all_queries(datasets / "medquad", args.pages)), 1)
    cov = _store(work, "covidqa", [str(datasets / "covid-qa" / "covidqa_dev.json")])
    engine = Engine(cov)
    r = HybridRetriever(engine.store, engine.embedder, cov)
    tune_half, held_half = covidqa_halves(
        covidqa_queries(datasets / "covid-qa" / "covidqa_dev.json"))
    sets["covidqa-tune"] = (_features(r, tune_half), 5)
    held = _features(r, held_half)

    names = ("dense_weight", "coverage_weight", "field_weight", "window_weight", "phrase_weight")
    rows = []
    for weights in grid:
        scores = {name: _score(data, weights, k) for name, (data, k) in sets.items()}
        rows.append((sum(scores.values()) / len(scores), weights, scores))
    rows.sort(key=lambda r: r[0], reverse=True)
    print("best weights (mean of MedQuAD article hit@1 and COVID-QA tuning-half hit@5):")
    for mean, weights, scores in rows[:8]:
        print("  " + " ".join(f"{n}={v:.2f}" for n, v in zip(names, weights, strict=True))
              + f"  mean {mean:.3f}  " + "  ".join(f"{k} {v:.3f}" for k, v in scores.items()))
    best = rows[0][1]
    held_hit = _score(held, best, 5)
    d = Settings()
    defaults: Weights = (d.dense_weight, d.coverage_weight, d.field_weight, d.window_weight,
                         d.phrase_weight)
    current = _score(held, defaults, 5)
    print(f"held-out COVID-QA half, hit@5 with the best weights: {held_hit:.3f}; with the "
          f"current defaults: {current:.3f}")
    write_figures(args.json, {"best": dict(zip(names, best, strict=True)),
                              "held_out_covidqa_hit@5": held_hit})
    return 0


def load_abstention_set(path: Path) -> tuple[list[tuple[str, str]], list[str]]:
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [tuple(x) for x in data["answerable"]], list(data["unanswerable"])


def bench_abstain(args: argparse.Namespace) -> int:
    """Calibrate the answering gate: which thresholds refuse the unanswerable questions and
    answer the answerable ones (sample corpus, tests/data/abstention.yaml)."""
    from followup.answering.engine import Engine

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
