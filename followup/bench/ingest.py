"""``followup bench ingest``: ingest throughput against LangChain's default path, re-ingest time
and peak memory, each phase in its own process so its peak memory is its own.

Baseline (same articles, same model, same batch size): LangChain's
``RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)`` over each article's text,
then ``Chroma.from_documents`` into an embedded store.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from followup.bench import write_figures
from followup.errors import UsageError


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


THROUGHPUT_TARGET = 1.5  # issue 13: ours >= 1.5x LangChain default path (aim 2x)


def _inputs(medquad: str, pubmedqa: str, limit: int | None) -> list[str]:
    from followup.importers import discover

    for p in (medquad, pubmedqa):
        if not Path(p).exists():
            raise UsageError(f"{p}: not found; pass --medquad/--pubmedqa with the dataset paths")
    files = [str(p) for p in discover([medquad]) if p.suffix == ".xml"]
    if limit:
        files = files[:limit]
    return [*files, pubmedqa]


def _limit_pubmedqa(path: str, limit: int | None, work: Path) -> str:
    """With --limit, a PubMedQA file of the first ``limit`` records (both paths read it)."""
    if not limit:
        return path
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    subset = dict(list(data.items())[:limit])
    out = work / "pubmedqa-subset.json"
    out.write_text(json.dumps(subset), encoding="utf-8")
    return str(out)


def _articles(paths: Sequence[str]) -> list[Any]:
    from followup.importers import read_sources
    from followup.settings import Settings

    scan = read_sources(paths, Settings())
    return [r for r in scan.results if not isinstance(r, Exception)]


def _phase_ours(cfg: dict[str, Any]) -> dict[str, Any]:
    from followup.ingest import ingest
    from followup.settings import Settings

    settings = Settings(store_dir=Path(cfg["store"]), progress=False)
    t0 = time.perf_counter()
    paths = cfg["paths"]
    report = ingest(paths, settings)
    seconds = time.perf_counter() - t0
    peak = _peak_mb()
    return {"seconds": seconds, "articles": report.added, "chunks": report.chunks,
            "failed": len(report.failed), "skipped": len(report.skipped),
            "embed_seconds": report.stage_seconds.get("embed", 0.0),
            "stages": report.stage_seconds, "embedder": settings.embedder,
            "peak_mb": peak, **_embed_rates(paths, settings)}


def _embed_rates(paths: Sequence[str], settings: Any) -> dict[str, Any]:
    """After the timed ingest: the tokens it embedded, and what the graph alone achieves here
    (tokens per second on every worker at once, no tokenizing or pooling), the ceiling of the
    embed stage. ONNX embedders only."""
    from followup.chunks import chunk_article
    from followup.embedders import OnnxEmbedder, get_embedder

    model = get_embedder(settings)
    if not isinstance(model, OnnxEmbedder):
        return {}
    texts = [c.embedding_text() for a in _articles(paths)
             for c in chunk_article(a, settings.chunk_max_chars, settings.chunk_overlap_chars)]
    return {"embed_tokens": sum(model.token_lengths(texts)),
            "kernel_tokens_per_s": model.kernel_tokens_per_second()}


def _phase_baseline(cfg: dict[str, Any]) -> dict[str, Any]:
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from followup.embedders import get_embedder
    from followup.retriever.langchain_adapter import EmbedderEmbeddings
    from followup.settings import Settings

    # LangChain's default path: sentence-transformers on torch, whatever our default runtime
    model = get_embedder(Settings(embedder="minilm-torch"))

    t0 = time.perf_counter()
    arts = _articles(cfg["paths"])
    docs = [Document(page_content=a.source_text, metadata={"article_id": a.id}) for a in arts]
    splits = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(
        docs
    )
    Chroma.from_documents(splits, EmbedderEmbeddings(model), persist_directory=cfg["store"],
                          collection_name="baseline")
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "articles": len(arts), "chunks": len(splits),
            "peak_mb": _peak_mb()}


def _phase_reingest(cfg: dict[str, Any]) -> dict[str, Any]:
    from followup.ingest import ingest
    from followup.settings import Settings

    settings = Settings(store_dir=Path(cfg["store"]), progress=False)
    t0 = time.perf_counter()
    report = ingest(cfg["paths"], settings)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "unchanged": report.unchanged, "added": report.added,
            "updated": report.updated, "peak_mb": _peak_mb()}


def _phase_chars(cfg: dict[str, Any]) -> dict[str, Any]:
    arts = _articles(cfg["paths"])
    return {"articles": len(arts), "chars": sum(len(a.source_text) for a in arts)}


PHASES = {"ours": _phase_ours, "baseline": _phase_baseline, "reingest": _phase_reingest,
          "chars": _phase_chars}


def _run_phase(name: str, cfg: dict[str, Any]) -> dict[str, Any]:
    """Run one phase in a child process and return what it measured."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(cfg, fh)  # thousands of paths: a file, not the command line
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "followup.bench.ingest", name, fh.name],
            capture_output=True, text=True, check=False,
        )
    finally:
        os.unlink(fh.name)
    if proc.returncode != 0:
        raise RuntimeError(f"bench phase {name} failed:\n{proc.stderr[-3000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def bench_ingest(args: argparse.Namespace) -> int:
    """Print ingest figures for our pipeline and LangChain's default on the same articles."""
    work = Path(args.workdir or tempfile.mkdtemp(prefix="followup-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    paths = _inputs(args.medquad, args.pubmedqa, args.limit)
    paths[-1] = _limit_pubmedqa(args.pubmedqa, args.limit, work)
    for sub in ("ours", "baseline"):
        shutil.rmtree(work / sub, ignore_errors=True)
    base_cfg = {"paths": paths}
    import torch

    print(f"bench ingest: {len(paths) - 1} MedQuAD pages + PubMedQA "
          f"({args.limit or 500} abstracts); torch threads {torch.get_num_threads()}, "
          f"cores {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}", flush=True)
    size = _run_phase("chars", base_cfg)
    print(f"  articles {size['articles']}, source characters {size['chars']:,}", flush=True)
    ours = _run_phase("ours", {**base_cfg, "store": str(work / "ours")})
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in ours.get("stages", {}).items())
    print(f"  ours:     {ours['seconds']:.1f} s, {ours['chunks']} chunks, "
          f"peak {ours['peak_mb']:.0f} MB ({ours.get('embedder')}; {stages})", flush=True)
    if ours.get("embed_tokens") and ours.get("embed_seconds"):
        print(f"  ours embed: {ours['embed_tokens']:,} tokens, "
              f"{ours['embed_tokens'] / ours['embed_seconds']:,.0f} tokens/s; the graph alone "
              f"here, every worker at once: {ours['kernel_tokens_per_s']:,.0f} tokens/s "
              f"(load average {os.getloadavg()[0]:.2f})", flush=True)
    base = _run_phase("baseline", {**base_cfg, "store": str(work / "baseline")})
    print(f"  baseline: {base['seconds']:.1f} s, {base['chunks']} chunks, "
          f"peak {base['peak_mb']:.0f} MB", flush=True)
    subset = paths[: args.reingest_articles]
    re1 = _run_phase("reingest", {"paths": subset, "store": str(work / "ours")})
    re_all = _run_phase("reingest", {"paths": paths, "store": str(work / "ours")})

    def rate(p: dict[str, Any]) -> tuple[float, float]:
        return size["articles"] / p["seconds"], size["chars"] / p["seconds"]

    o_a, o_c = rate(ours)
    b_a, b_c = rate(base)
    figures = {
        "articles": size["articles"],
        "source_chars": size["chars"],
        "ours": {**ours, "articles_per_s": o_a, "chars_per_s": o_c},
        "baseline": {**base, "articles_per_s": b_a, "chars_per_s": b_c},
        "throughput_ratio": o_a / b_a,
        "reingest_unchanged": {"articles": re1["unchanged"], "seconds": re1["seconds"],
                               "peak_mb": re1["peak_mb"]},
        "reingest_unchanged_all": {"articles": re_all["unchanged"],
                                   "seconds": re_all["seconds"]},
    }
    print()
    print(f"{'':28}{'ours':>14}{'LangChain default':>20}")
    print(f"{'articles/s':28}{o_a:>14.2f}{b_a:>20.2f}")
    print(f"{'source chars/s':28}{o_c:>14,.0f}{b_c:>20,.0f}")
    print(f"{'chunks':28}{ours['chunks']:>14}{base['chunks']:>20}")
    print(f"{'wall seconds':28}{ours['seconds']:>14.1f}{base['seconds']:>20.1f}")
    print(f"{'peak memory (MB)':28}{ours['peak_mb']:>14.0f}{base['peak_mb']:>20.0f}")
    print(f"throughput ratio ours/baseline: {figures['throughput_ratio']:.2f} "
          f"(target >= {THROUGHPUT_TARGET})")
    print(f"re-ingest, unchanged, {re1['unchanged']} articles: {re1['seconds']:.2f} s "
          f"(target < 3 s); all {re_all['unchanged']}: {re_all['seconds']:.2f} s")
    write_figures(args.json, figures, announce=True)
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    result = PHASES[sys.argv[1]](json.loads(Path(sys.argv[2]).read_text(encoding="utf-8")))
    print(json.dumps(result))
