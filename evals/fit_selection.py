"""Fit the extractive composer's sentence-score weights on tuning conversations.

    python -m followup.evals.fit_selection evals/conversations/dev-tune.yaml ... [--l2 1.0]

Replays every case of the suites in process (as ``followup eval`` does), records at each turn
the composer's candidate sentences with their features (``selection.FEATURES``), labels as
right the candidates that hold one of the turn's expected phrases (``contains_any`` /
``contains``), and fits the weights of a conditional logit (softmax over a turn's candidates,
the likelihood of the right ones) with an L2 pull towards the current ``selection.WEIGHTS``.
It prints the fitted weights, and the share of turns whose best candidate is right under the
current and the fitted weights. Turns with no right candidate (retrieval missed, or a refusal)
are left out. Never fit on a reported set.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from followup.answering import selection
from followup.evals.runner import Runner
from followup.evals.suite import load_suites
from followup.settings import Settings


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).lower()


Turns = list[tuple[np.ndarray, np.ndarray, float]]


def collect(paths: Sequence[str], exclude: Sequence[str] = (),
            weights: dict[str, float] | None = None) -> Turns:
    """(features of a turn's candidates, which are right) for every turn with a right one;
    the cases of the ``exclude`` suites (a reported draw of the same generator) left out;
    each turn weighs its suite's ``weights`` (by suite name; default 1)."""
    left_out = {case.id for suite in load_suites(list(exclude)) for case in suite.cases}
    recorded: list[Any] = []
    original = selection._Candidate

    class Recording(original):  # type: ignore[misc,valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            recorded.append(self)

    selection._Candidate = Recording  # type: ignore[misc]
    out: Turns = []
    try:
        runner = Runner(Settings(), log=lambda _: None)
        for suite in load_suites(list(paths)):
            target = runner.target(suite)
            for case in (c for c in suite.cases if c.id not in left_out):
                history: list[dict[str, Any]] = []
                for turn in case.turns:
                    recorded.clear()
                    answer = target.ask(turn.ask, history, case.audience)
                    phrases = [_norm(p) for p in (turn.expect.get("contains_any", [])
                                                  + turn.expect.get("contains", []))]
                    if phrases and recorded and not turn.expect.get("abstain"):
                        right = np.array([any(p in _norm(c.sentence.text) for p in phrases)
                                          for c in recorded])
                        if right.any() and not right.all():
                            out.append((np.stack([c.features for c in recorded]), right,
                                        (weights or {}).get(suite.name, 1.0)))
                    history += [{"role": "user", "content": turn.ask},
                                {"role": "assistant", "content": answer.get("answer", ""),
                                 "metadata": {"cited_articles":
                                              answer.get("cited_articles", [])}}]
    finally:
        selection._Candidate = original  # type: ignore[misc]
    return out


def loss(w: np.ndarray, data: Turns, prior: np.ndarray, l2: float
         ) -> tuple[float, np.ndarray]:
    """Negative log-likelihood of the right candidates, plus the L2 pull; and its gradient."""
    total, grad = 0.0, np.zeros_like(w)
    for x, right, weight in data:
        s = x @ w
        p = np.exp(s - s.max())
        p /= p.sum()
        pr = p[right].sum()
        total -= weight * np.log(pr)
        q = np.where(right, p / pr, 0.0)  # the right candidates' posterior share
        grad -= weight * (x.T @ (q - p))
    diff = w - prior
    return total + l2 * float(diff @ diff), grad + 2 * l2 * diff


def top1(w: np.ndarray, data: Turns) -> float:
    return float(np.mean([right[int(np.argmax(x @ w))] for x, right, _ in data]))


def main(argv: Sequence[str] | None = None) -> int:
    from scipy.optimize import minimize

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("suites", nargs="+")
    ap.add_argument("--l2", type=float, default=1.0, help="pull towards the current weights")
    ap.add_argument("--scale", type=float, default=10.0,
                    help="the current weights times this is the prior (softmax temperature)")
    ap.add_argument("--keep", action="append", default=[], choices=selection.FEATURES,
                    help="hold this feature's weight at its current value (repeatable)")
    ap.add_argument("--exclude", action="append", default=[],
                    help="leave out the cases of this (reported) suite (repeatable)")
    ap.add_argument("--weight", action="append", default=[], metavar="SUITE=W",
                    help="weigh that suite's turns W (default 1; repeatable)")
    ap.add_argument("--json", help="write the fitted weights here")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    weights = {}
    for item in args.weight:
        name, _, value = item.partition("=")
        try:
            weights[name] = float(value)
        except ValueError:
            ap.error(f"--weight {item!r}: give SUITE=NUMBER, e.g. medquad-answers-tune=0.5")
    data = collect(args.suites, args.exclude, weights)
    prior = selection.WEIGHTS * args.scale
    bounds = [(v, v) if name in args.keep else (None, None)
              for name, v in zip(selection.FEATURES, prior, strict=True)]
    fit = minimize(loss, prior, args=(data, prior, args.l2), jac=True, method="L-BFGS-B",
                   bounds=bounds)
    w = fit.x / args.scale
    print(f"{len(data)} turns with a right candidate; top-1 right: current "
          f"{top1(selection.WEIGHTS, data):.3f}, fitted {top1(w, data):.3f}")
    for name, old, new in zip(selection.FEATURES, selection.WEIGHTS, w, strict=True):
        print(f"  {name:12s} {old:8.4f} -> {new:8.4f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(zip(selection.FEATURES, map(float, w), strict=True)), f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
