"""``followup eval SUITE_OR_DIR… [--store DIR | --chroma-url URL | --url CHAT_URL] [--json OUT]
[--report OUT.html] [--min METRIC=VALUE …]``: run suites, print a table, gate on thresholds."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from followup.settings import load_settings


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="run grounding test suites (YAML) and print metrics",
                       description="Run grounding test suites against the system (in-process "
                       "by default, or a running chat with --url); exit 1 when a case fails "
                       "or a --min/--max threshold is not met.")
    p.add_argument("suites", nargs="+", metavar="SUITE_OR_DIR",
                   help="suite files (*.yaml) or folders of them")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--store", help="embedded store folder (suites' corpora go into it)")
    where.add_argument("--chroma-url", help="Chroma server URL (suites' corpora go into it)")
    where.add_argument("--url", help="evaluate a running chat through its /ask endpoint")
    p.add_argument("--json", metavar="OUT", help="write metrics and per-case results as JSON")
    p.add_argument("--report", metavar="OUT.html", help="write a self-contained HTML report")
    p.add_argument("--min", action="append", default=[], metavar="[SUITE_GLOB:]METRIC=VALUE",
                   help="fail unless the metric (over the matching suites) is at least VALUE")
    p.add_argument("--max", action="append", default=[], metavar="[SUITE_GLOB:]METRIC=VALUE",
                   help="fail unless the metric is at most VALUE (rates where lower is better)")
    p.add_argument("--baselines", action="store_true",
                   help="also run BM25 only, dense only and LangChain's default retrieval")
    p.add_argument("--judge", default="support", metavar="SPEC",
                   help="support (default), nli:MODEL_FOLDER, ollama:MODEL or openai:MODEL")
    p.add_argument("--judge-labels", default=None, metavar="FILE",
                   help="hand labels to calibrate the judge against "
                   "(default: evals/judge_labels.jsonl)")
    p.add_argument("--gate", choices=["all", "metrics"], default="all",
                   help="all: a failing case fails the run (default); metrics: only the "
                   "thresholds do (for large generated suites)")
    p.add_argument("--allow-known-failures", action="store_true",
                   help="a failing case tagged known-failure does not fail the run (it is "
                   "still counted in every metric and reported as KNOWN)")


def writable_output(value: str, flag: str) -> Path:
    """``--json``/``--report`` checked before anything runs: its folder is created and a probe
    write must succeed, so a long run never ends in a traceback with its results lost."""
    from followup.evals.runner import EvalError

    path = Path(value)
    if path.is_dir():
        raise EvalError(f"{flag} {value}: is a folder; give a file name, e.g. {path / 'out'}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        existed = path.exists()
        with path.open("a", encoding="utf-8"):
            pass
        if not existed:
            path.unlink()
    except (FileExistsError, NotADirectoryError):
        raise EvalError(f"{flag} {value}: cannot write there (a part of its folder path is a "
                        "file); choose another path") from None
    except OSError as exc:
        raise EvalError(f"{flag} {value}: cannot write there ({exc.strerror or exc}); choose "
                        "another path") from None
    return path


def cmd_eval(args: argparse.Namespace) -> int:
    from followup.evals.judge import LABELS_FILE, calibrate, get_judge, load_labels
    from followup.evals.runner import (
        Runner,
        check_thresholds,
        failures_text,
        gating_failures,
        parse_threshold,
        table,
        validate_thresholds,
    )
    from followup.evals.suite import load_suites

    overrides: dict[str, object] = {}
    if args.store:
        overrides["store_dir"] = args.store
    if args.chroma_url:
        overrides["chroma_url"] = args.chroma_url
    settings = load_settings(**overrides)
    thresholds = [parse_threshold(t) for t in args.min] + [
        parse_threshold(t, at_most=True) for t in args.max]
    suites = load_suites(args.suites)  # a malformed suite stops here, before anything runs
    validate_thresholds(thresholds, suites)  # so do an unknown metric and a glob matching none
    json_out = writable_output(args.json, "--json") if args.json else None
    report_out = writable_output(args.report, "--report") if args.report else None
    judge = get_judge(args.judge, settings)
    runner = Runner(settings, url=args.url, explicit_store=bool(args.store or args.chroma_url),
                    baselines=args.baselines, judge=judge)
    run = runner.run(suites)
    labels = Path(args.judge_labels) if args.judge_labels else LABELS_FILE
    if labels.exists():
        run.judge_calibration = calibrate(judge, load_labels(labels))
    print()
    print(table(run))
    if run.judge_calibration:
        c = run.judge_calibration
        print(f"\njudge {c['judge']} vs {c['labels']} hand labels: accuracy {c['accuracy']:.3f}, "
              f"precision {c['precision']:.3f}, recall {c['recall']:.3f}, kappa {c['kappa']:.3f}")
    for note in run.notes:
        print(f"note: {note}")
    fails = failures_text(run)
    if fails:
        print("\nfailed expectations:\n" + fails)
    if json_out:
        json_out.write_text(json.dumps(run.to_json(), indent=2, ensure_ascii=False),
                            encoding="utf-8")
        print(f"\nJSON written to {args.json}")
    unmet = check_thresholds(run, thresholds)
    if report_out:
        from followup.evals.report import write_report

        write_report(run, report_out, unmet if thresholds else None)
        print(f"report written to {args.report}")
    for line in unmet:
        print(f"THRESHOLD NOT MET: {line}", file=sys.stderr)
    if thresholds and not unmet:
        print(f"all {len(thresholds)} thresholds met")
    failing, fixed = gating_failures(run, allow_known=args.allow_known_failures)
    for case in fixed:
        print(f"known failure now passes: {case} (remove its known-failure tag)")
    if failing and args.gate == "all":
        known = sum(c.endswith("(known failure)") for c in failing)
        hint = (f", {known} of them tagged known-failure (--allow-known-failures exempts "
                "them)" if known else "")
        print(f"{len(failing)} case(s) failed{hint}", file=sys.stderr)
    return 1 if unmet or (failing and args.gate == "all") else 0
