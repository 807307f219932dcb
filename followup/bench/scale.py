"""``followup bench scale``: how cost grows with the corpus, at 1x, 4x and 16x a base corpus.

The base is the first ``--base-limit`` MedQuAD pages, PubMedQA abstracts and COVID-QA papers;
a size of ``m`` times the base adds ``m - 1`` copies of it: the same texts under new ids
(``…-copy3``: MedQuAD pages as symlinks under a renamed file, PubMedQA and COVID-QA records
under a renamed PMID / document id), so retrieval still finds sensible answers. Each size is
ingested into a fresh store in its own process, then served by a fresh worker process, so
each peak memory is that size's own.

Embedding is linear in chunks and dominates ingest, so each distinct text is embedded once
(measured) and its copies' vectors come from an in-process cache keyed by the text with the
copy mark removed; the copies' embedding time is *estimated* at the measured per-chunk rate
and printed as such. Everything else (reading, chunking, Chroma writes, the BM25 index and
lexicon, asking, opening the store) runs for real at every size.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from followup.bench import write_figures
from followup.embedders import Embedder
from followup.errors import UsageError
from followup.settings import Settings
from followup.stats import percentile

COPY_MARK = "-copy"  # article ids of copies end with -copy<k> (ids allow letters, digits, -)
_COPY_RE = re.compile(re.escape(COPY_MARK) + r"\d+")
WARMUP_QUESTIONS = 3  # asked untimed after the first answer, before the timed ones
REFRESH_REPEATS = 5  # manifest refreshes timed per size (median reported)
CHROMA_SINGLE_NODE_RECORDS = 10_000_000  # Chroma's single-node guidance, order of magnitude
MACHINE_RAM_MB = 24 * 1024  # this machine: 24 GiB
_SECRETS = {"llm_api_key", "chat_password"}  # not written to the phase files (env has them)


# ------------------------------------------------------------------ sources


@dataclass(frozen=True)
class Base:
    """The base corpus: MedQuAD page files and a PubMedQA and a COVID-QA file (subsets)."""

    medquad: list[Path]
    pubmedqa: Path
    covidqa: Path

    def paths(self) -> list[str]:
        return [*map(str, self.medquad), str(self.pubmedqa), str(self.covidqa)]


def parse_multiples(text: str) -> list[int]:
    """``"1,4,16"`` -> [1, 4, 16] (positive, increasing)."""
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        values = []
    if not values or any(v < 1 for v in values) or values != sorted(set(values)):
        raise UsageError(f"--multiples {text!r}: give increasing positive integers, e.g. 1,4,16")
    return values


def build_base(args: argparse.Namespace, folder: Path) -> Base:
    """The first ``args.base_limit`` records of each dataset (subset files in ``folder``)."""
    from followup.importers import discover

    for flag, value in (("--medquad", args.medquad), ("--pubmedqa", args.pubmedqa),
                        ("--covidqa", args.covidqa)):
        if not Path(value).exists():
            raise UsageError(f"{value}: not found; pass {flag} with the dataset's path")
    if args.base_limit < 1:
        raise UsageError(f"--base-limit {args.base_limit}: give at least 1")
    limit = args.base_limit
    medquad = [p for p in discover([args.medquad]) if p.suffix == ".xml"][:limit]
    pubmed = dict(list(_read_json(args.pubmedqa).items())[:limit])
    covid = _read_json(args.covidqa)
    covid = {**covid, "data": covid["data"][:limit]}
    folder.mkdir(parents=True, exist_ok=True)
    return Base(medquad, _write_json(folder / "pubmedqa.json", pubmed),
                _write_json(folder / "covidqa.json", covid))


def _read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def write_copy(base: Base, k: int, folder: Path) -> Path:
    """Copy ``k`` of the base under ``folder/copy<k>``: the same texts under new ids."""
    mark = f"{COPY_MARK}{k}"
    out = folder / f"copy{k}"
    if out.exists():
        return out
    for page in base.medquad:  # the id is the collection folder's number and the file's stem
        link = out / "medquad" / page.parent.name / f"{page.stem}{mark}{page.suffix}"
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(page.resolve())
    pubmed = {f"{pmid}{mark}": rec for pmid, rec in _read_json(base.pubmedqa).items()}
    _write_json(out / f"pubmedqa{mark}.json", pubmed)
    covid = _read_json(base.covidqa)
    for doc in covid["data"]:
        for para in doc["paragraphs"]:
            para["document_id"] = f"{para['document_id']}{mark}"
    _write_json(out / f"covidqa{mark}.json", covid)
    return out


def size_paths(base: Base, multiple: int, folder: Path) -> list[str]:
    """The sources of ``multiple`` times the base: the base and its copies 1 … multiple-1."""
    return base.paths() + [str(write_copy(base, k, folder)) for k in range(1, multiple)]


# ------------------------------------------------------------------ the embedding cache


class CopyCachedEmbedder:
    """An Embedder that embeds each distinct text once: a text that differs from one already
    embedded only by copy marks gets that one's vector. Counts what it embedded (and how long
    that took) and what it served from the cache."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.id = inner.id
        self.dim = inner.dim
        self._vectors: dict[str, list[float]] = {}
        self.embedded = 0
        self.cached = 0
        self.seconds = 0.0

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        keys = [_COPY_RE.sub("", t) for t in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in self._vectors))
        if missing:
            t0 = time.perf_counter()
            self._vectors.update(zip(missing, self.inner.embed(missing), strict=True))
            self.seconds += time.perf_counter() - t0
        self.embedded += len(missing)
        self.cached += len(texts) - len(missing)
        return [self._vectors[k] for k in keys]

    @property
    def estimated_seconds(self) -> float:
        """What embedding every text would have cost at the measured per-text rate."""
        rate = self.seconds / self.embedded if self.embedded else 0.0
        return self.seconds + self.cached * rate


# ------------------------------------------------------------------ the phases (children)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _disk_mb(folder: Path) -> float:
    """Disk use of ``folder``, as ``du`` counts it (allocated blocks)."""
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            total += os.lstat(Path(root) / name).st_blocks * 512
    return total / 2**20


def _child_settings(cfg: dict[str, Any]) -> Settings:
    return Settings(**{**cfg["settings"], "store_dir": cfg["store"], "chroma_url": None,
                       "progress": False})


def _phase_ingest(cfg: dict[str, Any]) -> dict[str, Any]:
    from followup.embedders import get_embedder
    from followup.ingest import ingest
    from followup.retriever.hybrid import lexical_folder

    settings = _child_settings(cfg)
    t0 = time.perf_counter()
    embedder = CopyCachedEmbedder(get_embedder(settings))
    load_s = time.perf_counter() - t0
    report = ingest(cfg["paths"], settings, embedder=embedder)
    if report.failed:
        raise UsageError(f"ingest failed for {len(report.failed)}: {report.failed[:3]}")
    embed_wall = report.stage_seconds.get("embed", 0.0)
    return {"articles": report.articles, "chunks": report.chunks,
            "ingest_s": report.seconds, "non_embed_s": report.seconds - embed_wall,
            "lexical_s": report.stage_seconds.get("lexical", 0.0),
            "embed_s": embedder.seconds, "embed_est_s": embedder.estimated_seconds,
            "embedded_chunks": embedder.embedded, "cached_chunks": embedder.cached,
            "embedder_load_s": load_s, "store_mb": _disk_mb(Path(cfg["store"])),
            "lexical_mb": _disk_mb(lexical_folder(settings)), "ingest_rss_mb": _peak_mb()}


def _phase_worker(cfg: dict[str, Any]) -> dict[str, Any]:
    """A fresh worker: ready (imports, store, lexical index, first answer), then warm asks and
    the manifest refresh the engine does every ``store_refresh_s``."""
    t0 = time.perf_counter()
    from followup.answering.engine import Engine

    settings = _child_settings(cfg)
    t_import = time.perf_counter()
    engine = Engine(settings)
    t_engine = time.perf_counter()
    questions = cfg["questions"]
    engine.ask(questions[0])
    first_s = time.perf_counter() - t_engine
    ready_s = time.time() - cfg["spawned"]  # from the parent's spawn: interpreter start too
    ready_rss = _peak_mb()
    for q in questions[1: 1 + WARMUP_QUESTIONS]:
        engine.ask(q)
    latencies, answered = _timed_asks(engine, questions[1 + WARMUP_QUESTIONS:])
    return {"ready_s": ready_s, "import_s": t_import - t0, "engine_s": t_engine - t_import,
            "first_answer_s": first_s, "ready_rss_mb": ready_rss,
            "ask_p50_ms": percentile(latencies, 0.5), "ask_p95_ms": percentile(latencies, 0.95),
            "asked": len(latencies), "answered": answered,
            "refresh_ms": _refresh_ms(engine), "worker_rss_mb": _peak_mb()}


def _timed_asks(engine: Any, questions: Sequence[str]) -> tuple[list[float], int]:
    latencies: list[float] = []
    answered = 0
    for q in questions:
        t = time.perf_counter()
        answer = engine.ask(q)
        latencies.append((time.perf_counter() - t) * 1e3)
        answered += not answer.abstained
    return latencies, answered


def _refresh_ms(engine: Any) -> float:
    """What the engine's periodic refresh costs: the manifest re-read, then the next question's
    signature check of the lexical index (unchanged store: nothing rebuilt)."""
    times = []
    for _ in range(REFRESH_REPEATS):
        t = time.perf_counter()
        engine.store.manifest(refresh=True)
        engine.retriever.lexical()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


PHASES = {"ingest": _phase_ingest, "worker": _phase_worker}


def _run_phase(name: str, cfg: dict[str, Any]) -> dict[str, Any]:
    """Run one phase in a child process and return what it measured."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump({**cfg, "spawned": time.time()}, fh)  # many paths: a file, not argv
    try:
        proc = subprocess.run([sys.executable, "-m", "followup.bench.scale", name, fh.name],
                              capture_output=True, text=True, check=False)
    finally:
        os.unlink(fh.name)
    if proc.returncode != 0:
        raise RuntimeError(f"bench scale phase {name} failed:\n{proc.stderr[-3000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


# ------------------------------------------------------------------ the parent


def _questions(args: argparse.Namespace, base: Base) -> list[str]:
    """Distinct questions the base answers: its MedQuAD pages' first questions, then (to reach
    ``--latency-questions``) its PubMedQA questions. Never repeated: a repeated question is
    answered from warm caches."""
    from followup.bench.ask import medquad_queries, pubmedqa_queries
    from followup.importers import medquad_id

    ids = {medquad_id(p) for p in base.medquad}
    found = [q.text for q in medquad_queries(Path(args.medquad), len(base.medquad))
             if q.article_id in ids]
    found += [q.text for q in pubmedqa_queries(base.pubmedqa)]
    questions = list(dict.fromkeys(found))[: args.latency_questions + 1 + WARMUP_QUESTIONS]
    if len(questions) < 2 + WARMUP_QUESTIONS:
        raise UsageError(f"the base has {len(questions)} questions to time; raise --base-limit")
    return questions


def _measure_size(multiple: int, base: Base, sources: Path, work: Path,
                  cfg: dict[str, Any]) -> dict[str, Any]:
    store = work / f"store-{multiple}x"
    shutil.rmtree(store, ignore_errors=True)  # a fresh store: ingest from nothing
    paths = size_paths(base, multiple, sources)
    row: dict[str, Any] = {"multiple": multiple}
    row.update(_run_phase("ingest", {**cfg, "store": str(store), "paths": paths}))
    print(f"  {multiple}x: ingested {row['articles']} articles, {row['chunks']} chunks in "
          f"{row['ingest_s']:.1f} s", flush=True)
    row.update(_run_phase("worker", {**cfg, "store": str(store)}))
    print(f"  {multiple}x: worker ready in {row['ready_s']:.1f} s, ask p50 "
          f"{row['ask_p50_ms']:.0f} ms / p95 {row['ask_p95_ms']:.0f} ms", flush=True)
    return row


COLUMNS = (  # header, key, format
    ("x", "multiple", "{:d}"),
    ("articles", "articles", "{:,d}"),
    ("chunks", "chunks", "{:,d}"),
    ("ingest s (no embed)", "non_embed_s", "{:.1f}"),
    ("embed s (measured)", "embed_s", "{:.1f}"),
    ("embed s (est.)*", "embed_est_s", "{:.1f}"),
    ("store MB", "store_mb", "{:,.0f}"),
    ("ask p50 ms", "ask_p50_ms", "{:.0f}"),
    ("ask p95 ms", "ask_p95_ms", "{:.0f}"),
    ("worker ready s", "ready_s", "{:.1f}"),
    ("refresh ms", "refresh_ms", "{:.0f}"),
    ("ingest RSS MB", "ingest_rss_mb", "{:,.0f}"),
    ("worker RSS MB", "worker_rss_mb", "{:,.0f}"),
)


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """The figures as a Markdown table, with the footnote on estimated embedding time."""
    lines = ["| " + " | ".join(h for h, _, _ in COLUMNS) + " |",
             "|" + "---|" * len(COLUMNS)]
    for row in rows:
        lines.append("| " + " | ".join(f.format(row[k]) for _, k, f in COLUMNS) + " |")
    lines.append("* embed s (est.): every chunk embedded, estimated. The distinct texts (the "
                 "1x base) are embedded for real (embed s (measured)); copies' vectors come "
                 "from a cache and their time is estimated at the measured per-chunk rate.")
    return "\n".join(lines)


def _slope(rows: Sequence[dict[str, Any]], key: str) -> tuple[float, float]:
    """(per chunk, intercept) of ``key`` between the two largest sizes (the marginal cost)."""
    a, b = rows[-2], rows[-1]
    per = (b[key] - a[key]) / max(1, b["chunks"] - a["chunks"])
    return per, b[key] - per * b["chunks"]


def _exponent(rows: Sequence[dict[str, Any]], key: str) -> float | None:
    """The log-log slope of ``key`` against chunks, smallest to largest size (1: linear)."""
    a, b = rows[0], rows[-1]
    if min(a[key], b[key]) <= 0:
        return None
    return math.log(b[key] / a[key]) / math.log(b["chunks"] / a["chunks"])


GROWTH_KEYS = ("non_embed_s", "embed_est_s", "store_mb", "ask_p50_ms", "ask_p95_ms", "ready_s",
               "refresh_ms", "ingest_rss_mb", "worker_rss_mb")


def extrapolate(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """How each cost grows (log-log exponent) and where one machine ends: each cost's marginal
    per-chunk growth between the two largest sizes, carried linearly to Chroma's single-node
    record count and to this machine's memory."""
    if len(rows) < 2:
        return {}
    out: dict[str, Any] = {"chunks_per_article": rows[-1]["chunks"] / rows[-1]["articles"],
                           "at_records": CHROMA_SINGLE_NODE_RECORDS}
    for key in GROWTH_KEYS:
        per, base = _slope(rows, key)
        out[key] = {"exponent": _exponent(rows, key), "per_1k_chunks": per * 1000,
                    "at_records": base + per * CHROMA_SINGLE_NODE_RECORDS}
    per, base = _slope(rows, "worker_rss_mb")
    out["records_at_machine_ram"] = (MACHINE_RAM_MB - base) / per if per > 0 else None
    return out


def _print_extrapolation(ext: dict[str, Any], refresh_s: float, last: dict[str, Any]) -> None:
    if not ext:
        return
    n = CHROMA_SINGLE_NODE_RECORDS
    growth = ", ".join(f"{k} {ext[k]['exponent']:.2f}" for k in GROWTH_KEYS
                       if ext[k]["exponent"] is not None)
    print(f"growth, log-log slope against chunks (1 = linear): {growth}")
    print(f"refresh every {refresh_s:g} s: {last['refresh_ms']:.0f} ms at {last['chunks']:,} "
          f"chunks = {last['refresh_ms'] / (10 * refresh_s):.1f} % of one core")
    print(f"carried linearly to {n:,} records (chunks; "
          f"{n / ext['chunks_per_article']:,.0f} articles): store "
          f"{ext['store_mb']['at_records'] / 1024:,.0f} GB, worker RSS "
          f"{ext['worker_rss_mb']['at_records'] / 1024:,.1f} GB, ingest without embedding "
          f"{ext['non_embed_s']['at_records'] / 3600:,.1f} h, embedding "
          f"{ext['embed_est_s']['at_records'] / 3600:,.0f} h, worker ready "
          f"{ext['ready_s']['at_records']:,.0f} s, refresh {ext['refresh_ms']['at_records']:,.0f}"
          " ms")
    at_ram = ext["records_at_machine_ram"]
    if at_ram:
        print(f"a worker's RSS reaches {MACHINE_RAM_MB // 1024} GiB at about {at_ram:,.0f} "
              "records")


def bench_scale(args: argparse.Namespace, settings: Settings) -> int:
    """Ingest and serve 1x … Nx the base corpus; print the table, write JSON and the plot."""
    multiples = parse_multiples(args.multiples)
    work = Path(args.workdir or ".followup/scale")
    work.mkdir(parents=True, exist_ok=True)
    sources = Path(tempfile.mkdtemp(prefix="followup-scale-sources-"))
    try:
        base = build_base(args, sources / "base")
        cfg = {"settings": settings.model_dump(mode="json", exclude=_SECRETS),
               "questions": _questions(args, base)}
        print(f"bench scale: base {len(base.medquad)} MedQuAD pages + first {args.base_limit} "
              f"PubMedQA / COVID-QA records; sizes {', '.join(f'{m}x' for m in multiples)}; "
              f"{len(cfg['questions']) - 1 - WARMUP_QUESTIONS} distinct questions timed "
              f"(MedQuAD, then PubMedQA); cores {os.cpu_count()}", flush=True)
        rows = [_measure_size(m, base, sources, work, cfg) for m in multiples]
    finally:
        shutil.rmtree(sources, ignore_errors=True)
    print()
    print(format_table(rows))
    ext = extrapolate(rows)
    _print_extrapolation(ext, settings.store_refresh_s, rows[-1])
    plot = Path(args.plot or work / "scale.png")
    write_plot(rows, plot)
    print(f"plot written to {plot}")
    write_figures(args.json, {"base_limit": args.base_limit, "rows": rows,
                              "extrapolation": ext}, announce=True)
    return 0


# ------------------------------------------------------------------ the plot


PANELS = (  # title, unit, ((label, key), …)
    ("ingest", "s", (("no embedding (measured)", "non_embed_s"),
                     ("embedding (est.)", "embed_est_s"))),
    ("ask latency", "ms", (("p50", "ask_p50_ms"), ("p95", "ask_p95_ms"))),
    ("memory and disk", "MB", (("ingest RSS", "ingest_rss_mb"), ("worker RSS", "worker_rss_mb"),
                               ("store on disk", "store_mb"))),
    ("a fresh worker", "s", (("ready (first answer)", "ready_s"),)),
)


def write_plot(rows: Sequence[dict[str, Any]], out: Path) -> None:
    """Each figure against articles (log x), one panel per kind of cost."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(10, 7))
    articles = [r["articles"] for r in rows]
    for ax, (title, unit, series) in zip(axes.flat, PANELS, strict=True):
        for label, key in series:
            ax.plot(articles, [r[key] for r in rows], marker="o", label=label)
        ax.set_xscale("log")
        ax.minorticks_off()
        ax.set_xticks(articles, [f"{a:,}" for a in articles])
        ax.set_ylim(bottom=0)
        ax.set_title(title)
        ax.set_xlabel("articles")
        ax.set_ylabel(unit)
        ax.legend(fontsize=8)
    fig.suptitle("followup bench scale: " + ", ".join(f"{r['multiple']}x" for r in rows))
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    result = PHASES[sys.argv[1]](json.loads(Path(sys.argv[2]).read_text(encoding="utf-8")))
    print(json.dumps(result))
