"""Ingest: articles -> citation-aware chunks -> sentence-transformers embeddings -> Chroma.

``python ingest.py [PATH...] [options]`` is the same command as ``followup ingest``.

Incremental and idempotent: each article's content hash is compared with the store's manifest;
unchanged articles cost no parsing of chunks and no embedding, changed ones are replaced whole,
``--prune`` removes articles whose files are gone. A bad file is reported with its path and
reason and the rest of the corpus ingests.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from followup.articles import Article
from followup.chunks import Chunk, chunk_article
from followup.embedders import Embedder, get_embedder
from followup.errors import ArticleError, NothingToIngest
from followup.importers import read_sources
from followup.retriever.hybrid import ensure_lexical_index
from followup.settings import Settings
from followup.store import ManifestEntry, commit_rebuild, open_store, writer_lock


@dataclass
class IngestReport:
    """What one ingest run did; ``to_json`` is the ``--json`` output."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)
    articles: int = 0
    chunks: int = 0
    seconds: float = 0.0
    store: str = ""
    repaired_chunks: int = 0
    new_chunks: int = 0
    embedded_chars: int = 0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    lexicon_members: int = 0  # drugs the entity lexicon knows a class of

    @property
    def exit_code(self) -> int:
        """0 when the store holds articles and nothing failed, else 1."""
        return 0 if not self.failed and self.articles > 0 else 1

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["seconds"] = round(self.seconds, 3)
        data["stage_seconds"] = {k: round(v, 3) for k, v in self.stage_seconds.items()}
        return data


def ingest(
    paths: Sequence[str | Path],
    settings: Settings,
    *,
    fmt: str = "auto",
    rebuild: bool = False,
    prune: bool = False,
    embedder: Embedder | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> IngestReport:
    """Ingest ``paths`` into the configured store.

    Args:
        paths: files or folders of articles or datasets.
        settings: the run's settings (store location, chunk size, embedder...).
        fmt: ``auto`` or a format name from ``followup.importers.FORMATS``.
        rebuild: build a fresh index beside the live one and swap it in when complete.
        prune: remove stored articles whose source files are gone.
        embedder: an already loaded embedder (loaded lazily from settings otherwise).
        on_batch: called with the number of articles written after each batch (tests use it
            to interrupt a run).

    Raises:
        UsageError: a path does not exist or the format is unknown.
        StoreError: the store cannot be opened (server down, fingerprint mismatch).
        StoreBusyError: another ingest into the store held its writer lock past
            ``settings.ingest_wait_s``.
    """
    with writer_lock(settings, on_wait=lambda msg: print(f"ingest: {msg}", file=sys.stderr,
                                                        flush=True)):
        return _ingest(paths, settings, fmt=fmt, rebuild=rebuild, prune=prune,
                       embedder=embedder, on_batch=on_batch)


def _ingest(paths: Sequence[str | Path], settings: Settings, *, fmt: str, rebuild: bool,
            prune: bool, embedder: Embedder | None, on_batch: Callable[[int], None] | None
            ) -> IngestReport:
    t0 = time.perf_counter()
    report = IngestReport(store=settings.describe_store())
    scan = read_sources(paths, settings, fmt)
    t_parse = time.perf_counter()
    store = open_store(settings, create=True, rebuild=rebuild)
    if store.needs_repair():
        report.repaired_chunks = store.repair()
    manifest = store.manifest()

    seen: dict[str, str] = {}
    ok_files: set[str] = set()
    failed_files: set[str] = set()
    todo: list[tuple[Article, bool]] = []
    for result in scan.results:
        if isinstance(result, NothingToIngest):
            report.skipped.append({"path": result.path, "reason": result.reason})
            continue
        if isinstance(result, ArticleError):
            report.failed.append({"path": result.path, "reason": result.reason})
            failed_files.add(result.path.split("#", 1)[0])
            continue
        article = result
        if article.id in seen:
            report.failed.append({
                "path": article.source_path,
                "reason": f"duplicate article id {article.id!r}, already used by "
                f"{seen[article.id]}; give one of them another id (front matter `id:`)",
            })
            failed_files.add(article.source_path)
            continue
        seen[article.id] = article.source_path
        ok_files.add(article.source_path)
        report.warnings.extend({"path": article.source_path, "reason": f"{article.id}: {w}"}
                               for w in article.warnings)
        old = manifest.get(article.id)
        if old is not None and old.content_hash == article.content_hash:
            report.unchanged += 1
            continue
        todo.append((article, old is not None))

    t_embed = 0.0
    if todo:
        model = embedder or get_embedder(settings)
        bar = _progress(settings, len(todo))
        pending: list[tuple[Article, bool, list[Chunk]]] = []

        def flush() -> None:
            nonlocal t_embed
            texts = [c.embedding_text() for _, _, cs in pending for c in cs]
            te = time.perf_counter()
            vectors = model.embed(texts)
            t_embed += time.perf_counter() - te
            items = []
            pos = 0
            for article, _existed, chunks in pending:
                entry = ManifestEntry(article.id, article.content_hash, article.source_path,
                                      len(chunks), article.title, article.updated)
                items.append((entry, chunks, vectors[pos: pos + len(chunks)]))
                pos += len(chunks)
            store.write_articles(items)
            for _article, existed, chunks in pending:
                report.updated += existed
                report.added += not existed
                report.new_chunks += len(chunks)
                report.embedded_chars += sum(len(c.text) for c in chunks)
            bar.update(len(pending))
            pending.clear()
            if on_batch is not None:
                on_batch(report.added + report.updated)

        queued = 0
        for article, existed in todo:
            chunks = chunk_article(article, settings.chunk_max_chars,
                                   settings.chunk_overlap_chars)
            if not chunks:
                report.failed.append({"path": article.source_path,
                                      "reason": f"{article.id}: no text to index"})
                continue
            pending.append((article, existed, chunks))
            queued += len(chunks)
            if queued >= settings.chunks_per_write:
                flush()
                queued = 0
        if pending:
            flush()
        bar.close()

    if prune:
        # each path resolved once: comparing every stored article with every file was
        # quadratic (MedQuAD: 150 s with nothing to prune)
        ok_resolved = {Path(f).resolve() for f in ok_files}
        failed_resolved = {Path(f).resolve() for f in failed_files}

        def stale(e: ManifestEntry) -> bool:
            """Its file is gone, or was read without it (and nothing of the file failed)."""
            source = Path(e.source_path)
            if not source.exists():
                return True
            resolved = source.resolve()
            return resolved in ok_resolved and resolved not in failed_resolved

        gone = [e.article_id for e in store.manifest(refresh=True).values()
                if e.article_id not in seen and stale(e)]
        store.delete_articles(gone)
        report.removed = len(gone)
    if rebuild:
        store = commit_rebuild(store)
    report.articles = len(store.manifest(refresh=True))
    report.chunks = store.count_chunks()
    t_lex = time.perf_counter()
    index = ensure_lexical_index(store, settings)  # BM25 and entity lexicon, with the store
    report.lexicon_members = len(index.lexicon.classes_of)
    report.seconds = time.perf_counter() - t0
    report.stage_seconds = {"read": t_parse - t0, "embed": t_embed,
                            "lexical": time.perf_counter() - t_lex}
    return report


class _LineProgress:
    """Progress for logs (stderr is not a terminal): one line per written batch."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total = total
        self.done = 0
        self.enabled = enabled

    def update(self, n: int) -> None:
        self.done += n
        if self.enabled:
            print(f"ingest: {self.done}/{self.total} articles written", file=sys.stderr,
                  flush=True)

    def close(self) -> None:
        pass


def _progress(settings: Settings, total: int) -> Any:
    """A tqdm bar on a terminal for long runs; plain lines in logs; nothing when disabled."""
    if settings.progress and total >= 50 and sys.stderr.isatty():
        from tqdm import tqdm

        return tqdm(total=total, unit="article", desc="embedding", file=sys.stderr,
                    mininterval=1.0)
    return _LineProgress(total, settings.progress and not sys.stderr.isatty())


def format_report(report: IngestReport) -> str:
    """The human summary printed at the end of ``followup ingest``."""
    lines = [
        f"Ingested into {report.store} in {report.seconds:.1f} s: "
        f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.removed} removed, {len(report.failed)} failed.",
        f"The store now holds {report.articles} articles in {report.chunks} chunks.",
    ]
    if report.repaired_chunks:
        lines.append(f"Removed {report.repaired_chunks} stray chunks left by an interrupted run.")
    if report.skipped:
        lines.append(f"Skipped {len(report.skipped)} sources with nothing to ingest:")
        lines.extend(f"  - {s['path']}: {s['reason']}" for s in report.skipped[:10])
        if len(report.skipped) > 10:
            lines.append(f"  ... and {len(report.skipped) - 10} more (see --json)")
    if report.warnings:
        lines.append(f"Warnings ({len(report.warnings)}):")
        lines.extend(f"  - {w['path']}: {w['reason']}" for w in report.warnings[:10])
        if len(report.warnings) > 10:
            lines.append(f"  ... and {len(report.warnings) - 10} more (see --json)")
    if report.failed:
        lines.append("Failed (fix these files and run ingest again; nothing else was affected):")
        lines.extend(f"  - {f['path']}: {f['reason']}" for f in report.failed)
    if report.articles == 0 and not report.failed:
        lines.append("No articles found: pass a folder of .md/.txt articles or a dataset path.")
    return "\n".join(lines)
