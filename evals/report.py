"""One self-contained HTML report of an eval run: metrics with baselines, plots (matplotlib,
inlined as PNG), the judge's calibration and a drill-down of every case. All text from suites,
articles and answers is escaped."""

from __future__ import annotations

import base64
import html
import io
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from followup.evals.metrics import KS, answer_metrics, baseline_metrics
from followup.evals.runner import SHOWN, Run
from followup.prompts import disclaimer

PASSING_SHOWN = 150

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1200px;color:#1d2330}
h1{font-size:22px} h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0} td,th{border:1px solid #ddd;padding:3px 8px}
th{background:#f3f5f8;text-align:left} td.n{text-align:right;font-variant-numeric:tabular-nums}
details{margin:4px 0;border:1px solid #e3e6ea;border-radius:6px;padding:4px 10px}
details.fail{border-color:#d9534f} summary{cursor:pointer}
.fail-tag{color:#b52b27;font-weight:600} .pass-tag{color:#2e7d32;font-weight:600}
.answer{white-space:pre-wrap;background:#fafbfc;border-left:3px solid #9bb;padding:6px}
.passage{white-space:pre-wrap;font-size:12px;color:#333;background:#f7f7f2;padding:4px}
.bad{background:#fde8e7} .muted{color:#667}
"""


def _e(x: Any) -> str:
    return html.escape("" if x is None else str(x), quote=True)


def _num(v: float | None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    return f"{v:.0f}" if abs(v) >= 100 else f"{v:.3f}"


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return ("<img alt='plot' src='data:image/png;base64,"
            + base64.b64encode(buf.getvalue()).decode() + "'>")


def _plots(run: Run) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out: list[str] = []
    ours = run.metrics()
    base = run.baselines()
    for level in ("passage", "article"):
        if not any(f"{level}_recall@{k}" in ours for k in KS):
            continue
        fig, ax = plt.subplots(figsize=(5.2, 3.4))
        for name, vals in [("ours", ours), *base.items()]:
            ys = [vals.get(f"{level}_recall@{k}", math.nan) for k in KS]
            if not all(math.isnan(y) for y in ys):
                ax.plot(KS, ys, marker="o", label=name)
        ax.set_xlabel("k (passages)")
        ax.set_ylabel(f"{level} recall@k")
        ax.set_ylim(0, 1.02)
        ax.set_xticks(KS)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        ax.set_title(f"{level}-level recall@k, all suites")
        out.append(_png(fig))
        plt.close(fig)
    lat = [r.latency_ms for r in run.results if r.answer is not None]
    if lat:
        fig, ax = plt.subplots(figsize=(5.2, 3.4))
        ax.hist(lat, bins=min(40, max(5, len(lat) // 5)), color="#4c78a8")
        ax.set_xlabel("answer latency (ms)")
        ax.set_ylabel("turns")
        ax.set_title(f"latency per turn (p50 {ours['latency_p50_ms']:.0f} ms, "
                     f"p95 {ours['latency_p95_ms']:.0f} ms)")
        out.append(_png(fig))
        plt.close(fig)
    return "".join(out)


def _metric_table(title: str, ours: dict[str, float], base: dict[str, dict[str, float]]) -> str:
    cols = ["ours", *base]
    rows = []
    for name in SHOWN:
        vals = [ours.get(name), *(base[b].get(name) for b in base)]
        if all(v is None or (isinstance(v, float) and math.isnan(v)) for v in vals):
            continue
        rows.append(f"<tr><td>{_e(name)}</td>" + "".join(
            f"<td class='n'>{_num(v)}</td>" for v in vals) + "</tr>")
    return (f"<h3>{_e(title)}</h3><table><tr><th>metric</th>"
            + "".join(f"<th>{_e(c)}</th>" for c in cols) + "</tr>" + "".join(rows) + "</table>")


def _case(c: dict[str, Any]) -> str:
    cls = "" if c["passed"] else " class='fail'"
    tag = ("<span class='pass-tag'>pass</span>" if c["passed"]
           else "<span class='fail-tag'>FAIL</span>")
    if c.get("known_failure"):
        tag += " <span class='muted'>(known failure)</span>"
    parts = [f"<details{cls}><summary>{tag} {_e(c['suite'])} / <b>{_e(c['id'])}</b> "
             f"<span class='muted'>({len(c['turns'])} turn(s), {_e(c['audience'])})</span>"
             "</summary>"]
    for i, t in enumerate(c["turns"], 1):
        parts.append(f"<h4>Turn {i}: {_e(t['ask'])}</h4>")
        parts.append(f"<p class='muted'>Interpreted as: {_e(t['standalone_question'])} · "
                     f"abstained: {_e(t['abstained'])} · {t['latency_ms']:.0f} ms · "
                     f"expect: <code>{_e(t['expect'])}</code></p>")
        for f in t["failures"]:
            parts.append(f"<p class='fail-tag'>✗ {_e(f)}</p>")
        if t.get("answer"):
            parts.append(f"<div class='answer'>{_e(t['answer'])}</div>")
        if t.get("verdicts"):
            parts.append("<table><tr><th>answer sentence</th><th>cites</th><th>supported by "
                         "its citations</th><th>citations precise</th></tr>")
            for v in t["verdicts"]:
                bad = "" if v["supported"] else " class='bad'"
                parts.append(f"<tr{bad}><td>{_e(v['text'])}</td><td>{_e(v['citations'])}</td>"
                             f"<td>{'yes' if v['supported'] else 'NO'}</td>"
                             f"<td>{_e(v['precise'])}</td></tr>")
            parts.append("</table>")
        if t.get("passages"):
            parts.append("<details><summary>top retrieved passages</summary>")
            for n, p in enumerate(t["passages"], 1):
                parts.append(f"<p><b>{n}.</b> {_e(p['article_id'])} — {_e(p['section'])} "
                             f"<span class='muted'>(score {_e(p['score'])})</span></p>"
                             f"<div class='passage'>{_e(p['text'])}</div>")
            if t.get("baselines"):
                parts.append("<p class='muted'>baselines' top articles: " + _e(
                    "; ".join(f"{b}: {', '.join(a)}" for b, a in t["baselines"].items()))
                    + "</p>")
            parts.append("</details>")
    parts.append("</details>")
    return "".join(parts)


def render_report(run: Run, thresholds: list[str] | None = None) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    head = (f"<h1>followup eval report</h1><p class='muted'>{_e(when)} · target "
            f"{_e(run.target)} · judge {_e(run.judge)} · {len(run.suites)} suite(s), "
            f"{len(run.results)} turns · {run.seconds:.0f} s</p>")
    body = [head]
    if thresholds is not None:
        body.append("<h2>Thresholds</h2>" + ("<p class='pass-tag'>all met</p>" if not thresholds
                    else "".join(f"<p class='fail-tag'>not met: {_e(t)}</p>"
                                 for t in thresholds)))
    body.append("<h2>Metrics</h2><p class='muted'>Definitions: evals/README.md. Baselines are "
                "retrieval only; they retrieve with the system's standalone question.</p>")
    if len(run.suites) > 1:
        body.append(_metric_table("all suites", run.metrics(), run.baselines()))
    for s in run.suites:
        rows = [r for r in run.results if r.suite == s.name]
        body.append(_metric_table(f"{s.name} ({len(s.cases)} cases)",
                                  answer_metrics(rows, disclaimer()), baseline_metrics(rows)))
    body.append("<h2>Plots</h2>" + _plots(run))
    cal = run.judge_calibration
    if cal:
        body.append(
            f"<h2>Judge calibration</h2><p>{_e(cal['judge'])} against {cal['labels']} hand "
            f"labels (evals/judge_labels.jsonl): accuracy {_num(cal['accuracy'])}, precision "
            f"{_num(cal['precision'])}, recall {_num(cal['recall'])}, Cohen's kappa "
            f"{_num(cal['kappa'])}; confusion {_e(cal['confusion'])}</p><table><tr><th>kind"
            "</th><th>accuracy</th></tr>" + "".join(
                f"<tr><td>{_e(k)}</td><td class='n'>{_num(v)}</td></tr>"
                for k, v in cal["by_kind"].items()) + "</table>")
        if cal["disagreements"]:
            body.append("<details><summary>disagreements</summary><table><tr><th>id</th>"
                        "<th>kind</th><th>label</th><th>judge</th><th>sentence</th>"
                        "<th>passage</th></tr>" + "".join(
                            f"<tr><td>{_e(d['id'])}</td><td>{_e(d['kind'])}</td>"
                            f"<td>{_e(d['label'])}</td><td>{_e(d['judge'])}</td>"
                            f"<td>{_e(d['sentence'])}</td><td>{_e(d['passage'])}</td></tr>"
                            for d in cal["disagreements"]) + "</table></details>")
    if run.notes:
        body.append("<h2>Notes</h2>" + "".join(f"<p>{_e(n)}</p>" for n in run.notes))
    cases = run.cases()
    failed = [c for c in cases if not c["passed"]]
    body.append(f"<h2>Cases</h2><p>{len(cases) - len(failed)}/{len(cases)} passed. Failed "
                "cases first.</p>")
    # every failed case; passing ones up to PASSING_SHOWN per suite (all are in the JSON)
    per_suite: dict[str, int] = {}
    passing = []
    for c in cases:
        if c["passed"] and per_suite.get(c["suite"], 0) < PASSING_SHOWN:
            per_suite[c["suite"]] = per_suite.get(c["suite"], 0) + 1
            passing.append(c)
    body.extend(_case(c) for c in failed + passing)
    left = len(cases) - len(failed) - len(passing)
    if left:
        body.append(f"<p class='muted'>… {left} more passing cases in the JSON output "
                    f"(the report shows {PASSING_SHOWN} per suite).</p>")
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<title>followup eval report</title><style>" + CSS + "</style></head><body>"
            + "".join(body) + "</body></html>")


def write_report(run: Run, path: Path, thresholds: list[str] | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(render_report(run, thresholds), encoding="utf-8")
    tmp.replace(path)
