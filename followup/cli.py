"""The ``followup`` command: one subcommand per job. Errors are caught here, and only here.

Exit codes: 0 success, 1 a failure (a file that did not ingest, a store that cannot be used),
2 a usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from followup.errors import FollowupError, UsageError
from followup.settings import Settings, load_settings

SCALE_BASE_LIMIT = 150  # bench scale's default base: 1x, 4x and 16x in about 20 minutes here


def _store_options(p: argparse.ArgumentParser) -> None:
    group = p.add_mutually_exclusive_group()
    group.add_argument("--store", metavar="DIR", help="embedded Chroma store folder "
                       "(default .followup/store; env FOLLOWUP_STORE_DIR)")
    group.add_argument("--chroma-url", metavar="URL", help="use a Chroma server, e.g. "
                       "http://127.0.0.1:8000 (env FOLLOWUP_CHROMA_URL)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="followup",
        description="Grounded answers to clinicians' follow-up questions, only from articles.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("ingest", help="ingest articles or datasets into the store")
    p.add_argument("paths", nargs="*", default=["corpus"], metavar="PATH",
                   help="files or folders (default: corpus)")
    _store_options(p)
    p.add_argument("--format", default="auto",
                   choices=["auto", "article", "medquad", "pubmedqa", "covidqa"],
                   help="source format (default: auto-detect per file)")
    p.add_argument("--rebuild", action="store_true",
                   help="build a fresh index (swapped in when complete)")
    p.add_argument("--prune", action="store_true",
                   help="remove stored articles whose files are gone")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    p = sub.add_parser("inspect", help="show how one file parses and chunks (no store)")
    p.add_argument("file")
    p.add_argument("--format", default="auto",
                   choices=["auto", "article", "medquad", "pubmedqa", "covidqa"])
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("status", help="what the store holds")
    _store_options(p)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("ask", help="answer a question (or a follow-up) from the articles")
    p.add_argument("question", nargs="?", help="the question (omit with -i)")
    p.add_argument("--history", metavar="FILE",
                   help='earlier turns: a JSON list of {"role": "user"|"assistant", "content"}'
                   " ('-' reads standard input)")
    p.add_argument("--audience", choices=["clinician", "patient"], default="clinician")
    _store_options(p)
    p.add_argument("--json", action="store_true", help="print the answer object as JSON")
    p.add_argument("-i", "--interactive", action="store_true",
                   help="a conversation in the terminal that keeps the history")

    sub.add_parser("chat", help="the web chat (Gradio) on 127.0.0.1:7860 (see chat --help)")

    from followup.evals.cli import add_parser as add_eval_parser

    add_eval_parser(sub)

    p = sub.add_parser("bench", help="benchmarks that print figures")
    p.add_argument("what", choices=["ingest", "ask", "chat", "tune", "abstain", "scale"])
    p.add_argument("--abstention-set", default="tests/data/abstention.yaml",
                   help="(abstain) the calibration questions")
    p.add_argument("--pages", type=int, default=300, help="(tune) MedQuAD pages sampled")
    p.add_argument("--latency-only", action="store_true", help="(ask) skip retrieval quality")
    p.add_argument("--store", default=None, help="(chat) the store the chat serves")
    p.add_argument("--sessions", type=int, default=20, help="(chat) concurrent API sessions")
    p.add_argument("--seconds", type=int, default=120, help="(chat) how long the load runs")
    p.add_argument("--concurrency", type=int, default=4,
                   help="(chat) the chat's concurrency limit")
    p.add_argument("--client", choices=["http", "gradio"], default="http",
                   help="(chat) the load's client: Gradio's HTTP call API on one kept-alive "
                        "connection per session (light), or gradio_client (~40 ms of CPU a "
                        "request, on the same two cores as the chat)")
    p.add_argument("--datasets", default="../shared/datasets", metavar="DIR",
                   help="(ask) the shared datasets folder")
    p.add_argument("--latency-questions", type=int, default=300,
                   help="(ask, scale) MedQuAD questions timed")
    p.add_argument("--medquad", default="../shared/datasets/medquad", metavar="DIR")
    p.add_argument("--pubmedqa", default="../shared/datasets/pubmedqa/pqal_dev.json",
                   metavar="FILE")
    p.add_argument("--covidqa", default="../shared/datasets/covid-qa/covidqa_dev.json",
                   metavar="FILE", help="(scale)")
    p.add_argument("--base-limit", type=int, default=SCALE_BASE_LIMIT, metavar="N",
                   help="(scale) records of each dataset in the base corpus (all: 6000)")
    p.add_argument("--multiples", default="1,4,16", help="(scale) sizes, times the base")
    p.add_argument("--plot", metavar="OUT.png", default=None,
                   help="(scale) where the plot goes (default: in the workdir)")
    p.add_argument("--limit", type=int, default=None,
                   help="use only the first N articles of each dataset (quick runs)")
    p.add_argument("--reingest-articles", type=int, default=1000)
    p.add_argument("--workdir", default=None, help="where the bench stores go (default: temp)")
    p.add_argument("--json", metavar="OUT", default=None, help="also write figures as JSON")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    if getattr(args, "store", None):
        overrides["store_dir"] = args.store
    if getattr(args, "chroma_url", None):
        overrides["chroma_url"] = args.chroma_url
    if getattr(args, "no_progress", False):
        overrides["progress"] = False
    return load_settings(**overrides)


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def cmd_ingest(args: argparse.Namespace) -> int:
    from followup.ingest import format_report, ingest

    settings = _settings(args)
    report = ingest(args.paths, settings, fmt=args.format, rebuild=args.rebuild,
                    prune=args.prune)
    if args.json:
        _print_json(report.to_json())
    else:
        print(format_report(report))
    return report.exit_code


def cmd_inspect(args: argparse.Namespace) -> int:
    from followup.chunks import chunk_article
    from followup.importers import read_sources

    settings = load_settings()
    scan = read_sources([args.file], settings, args.format)
    articles = [r for r in scan.results if not isinstance(r, FollowupError)]
    errors = [r for r in scan.results if isinstance(r, FollowupError)]
    if not articles:
        raise errors[0] if errors else UsageError(f"{args.file}: nothing to inspect")
    docs = []
    for article in articles:
        chunks = chunk_article(article, settings.chunk_max_chars, settings.chunk_overlap_chars)
        docs.append({
            "article": {
                "id": article.id,
                "title": article.title,
                "url": article.url,
                "updated": article.updated,
                "review_status": article.review_status,
                "format": article.source_format,
                "references": {str(k): v for k, v in article.references.items()},
                "unattached_references": list(article.unattached_references),
                "disclaimer": article.disclaimer,
                "warnings": list(article.warnings),
                "sections": [
                    {"heading": s.heading, "kind": s.kind, "sentences": [
                        {"text": x.text, "citations": list(x.citations), "span": [x.start, x.end]}
                        for x in s.sentences]}
                    for s in article.sections
                ],
            },
            "chunks": [
                {"id": c.id, "section": c.section, "kind": c.kind, "text": c.text,
                 "citations": list(c.citations), "span": [c.start, c.end],
                 "sentence_citations": [list(s.citations) for s in c.sentences],
                 "references": {str(k): v for k, v in c.references.items()}}
                for c in chunks
            ],
        })
    if args.json:
        _print_json(docs[0] if len(docs) == 1 else docs)
    else:
        for doc in docs:
            _print_inspect(doc)
    return 0


def _print_inspect(doc: dict[str, Any]) -> None:
    a = doc["article"]
    print(f"{a['id']}: {a['title']}")
    print(f"  updated {a['updated'] or '-'} · review status {a['review_status'] or '-'}"
          f" · url {a['url'] or '-'}")
    for w in a["warnings"]:
        print(f"  warning: {w}")
    print(f"  references: {len(a['references'])} cited, "
          f"{sum(1 for v in a['references'].values() if v)} with text")
    for n, text in a["references"].items():
        print(f"    [{n}] {text or '(not listed in the article)'}")
    for text in a["unattached_references"]:
        print(f"    [?] {text}")
    print(f"  {len(doc['chunks'])} chunks:")
    for c in doc["chunks"]:
        cites = ", ".join(map(str, c["citations"])) or "-"
        first = c["text"].split("\n", 1)[0]
        print(f"    {c['id']}  [{c['section']}]  cites {cites}  {len(c['text'])} chars")
        print(f"      {first[:100]}{'…' if len(first) > 100 else ''}")


def cmd_status(args: argparse.Namespace) -> int:
    from followup.store import open_store

    settings = _settings(args)
    store = open_store(settings)
    data = {
        "store": store.name,
        "fingerprint": store.fingerprint,
        "articles": len(store.manifest()),
        "chunks": store.count_chunks(),
    }
    if args.json:
        _print_json(data)
    else:
        print(f"Store {data['store']}: {data['articles']} articles, {data['chunks']} chunks.")
        print(f"Built with {data['fingerprint']}.")
    return 0


def _print_answer(answer: Any) -> None:
    print(f"Interpreted as: {answer.standalone_question}\n")
    print(answer.markdown())
    for notice in answer.notices:
        print(f"\nNote: {notice}")
    if answer.suggestions:
        label = "Closest articles" if answer.abstained else "You could also ask"
        print(f"\n{label}:")
        for q in answer.suggestions:
            print(f"  - {q}")


def cmd_ask(args: argparse.Namespace) -> int:
    from followup.answering.contextualize import Turn
    from followup.answering.engine import Engine, parse_history

    if not args.interactive and not args.question:
        raise UsageError("give a question, e.g. followup ask \"Can withdrawal cause muscle "
                         "spasms?\", or use -i for a conversation")
    history: list[Turn] = []
    if args.history:
        try:
            raw = sys.stdin.read() if args.history == "-" else open(  # noqa: SIM115
                args.history, encoding="utf-8").read()
        except OSError as exc:
            raise UsageError(f"cannot read --history {args.history}: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise UsageError(f"--history {args.history} is not UTF-8 text (byte {exc.start}); "
                             'give a JSON list of {"role", "content"} objects') from exc
        history = parse_history(raw)
    engine = Engine(_settings(args))
    if not args.interactive:
        answer = engine.ask(args.question, history, args.audience)
        if args.json:
            _print_json(answer.to_json())
        else:
            _print_answer(answer)
        return 0
    audience = args.audience
    print("Ask about the articles. Commands: /new (new conversation), /patient, /clinician, "
          "/quit.")
    question = args.question
    while True:
        if question is None:
            try:
                question = input("\n> ")
            except EOFError:
                print()
                return 0
        q = question.strip()
        question = None
        if q in ("/quit", "/exit"):
            return 0
        if q == "/new":
            history = []
            print("New conversation.")
            continue
        if q in ("/patient", "/clinician"):
            audience = q[1:]
            print(f"Audience: {audience}.")
            continue
        try:
            answer = engine.ask(q, history, audience)
        except UsageError as exc:
            print(f"error: {exc}")
            continue
        print()
        _print_answer(answer)
        history += [Turn("user", q), Turn("assistant", answer.markdown())]


def cmd_bench(args: argparse.Namespace) -> int:
    if args.what == "chat":
        from followup.bench.chat import bench_chat
        from followup.store import open_store

        open_store(_settings(args))  # a missing or outdated index: its own message, now
        return bench_chat(args)
    if args.what == "abstain":
        from followup.bench.tune import bench_abstain

        args.workdir = args.workdir or ".followup/bench"
        return bench_abstain(args)
    if args.what == "tune":
        from followup.bench.tune import bench_tune

        args.workdir = args.workdir or ".followup/bench"
        return bench_tune(args)
    if args.what == "scale":
        from followup.bench.scale import bench_scale

        return bench_scale(args, _settings(args))
    if args.what == "ask":
        from followup.bench.ask import bench_ask

        args.workdir = args.workdir or ".followup/bench"
        return bench_ask(args)
    from followup.bench.ingest import bench_ingest

    return bench_ingest(args)


def cmd_eval(args: argparse.Namespace) -> int:
    from followup.evals.cli import cmd_eval as run_eval

    return run_eval(args)


COMMANDS = {"ingest": cmd_ingest, "inspect": cmd_inspect, "status": cmd_status,
            "ask": cmd_ask, "bench": cmd_bench, "eval": cmd_eval}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``followup`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["chat"]:  # the chat has its own options (argparse REMAINDER drops them)
        from followup.chat_app import main as chat_main

        return chat_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except FollowupError as exc:
        print(f"followup {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"followup {args.command}: interrupted; run it again to finish (nothing is "
              "left half-written)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
