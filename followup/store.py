"""The Chroma adapter: chunks in one collection, the article manifest in another.

Embedded (``PersistentClient`` in ``settings.store_dir``) or a Chroma server
(``settings.chroma_url``), the same code path. Chroma never embeds anything itself (no default
embedding function: it would download a model) and telemetry is off.

Consistency without transactions: every chunk carries ``article_version`` (article id and content
hash) and the manifest holds the committed version of each article. Writing an article is
(1) upsert its new chunks, (2) commit its manifest record, (3) delete its other versions. Readers
only trust chunks whose version the manifest holds, so a kill at any moment never shows half an
article; the next ingest sees the manifest's chunk total disagree with the collection's count and
deletes the strays.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import chromadb
from chromadb.config import Settings as ChromaSettings

from followup.articles import Sentence
from followup.chunks import CHUNKER_VERSION, Chunk, chunk_id
from followup.embedders import describe_embedder
from followup.errors import (
    FingerprintMismatchError,
    StoreBusyError,
    StoreError,
    StoreMissingError,
    StoreUnavailableError,
)
from followup.settings import Settings

_PAGE = 2000  # records per get/write call (well under Chroma's batch limit)
_REBUILD = "-rebuild"


@dataclass(frozen=True)
class ManifestEntry:
    """The committed version of one article in the store."""

    article_id: str
    content_hash: str
    source_path: str
    chunks: int
    title: str
    updated: str | None = None

    @property
    def version(self) -> str:
        return article_version(self.article_id, self.content_hash)


def article_version(article_id: str, content_hash: str) -> str:
    return f"{article_id}@{content_hash[:16]}"


def fingerprint(settings: Settings) -> str:
    """What the index was built with; a different value means vectors are not comparable."""
    model, dim = describe_embedder(settings)
    return (f"{model}|dim={dim}|chunker={CHUNKER_VERSION}|max_chars={settings.chunk_max_chars}"
            f"|overlap={settings.chunk_overlap_chars}")


def _client(settings: Settings) -> Any:
    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        try:
            return chromadb.HttpClient(
                host=url.hostname or "127.0.0.1",
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=chroma_settings,
            )
        except Exception as exc:  # chromadb raises ValueError or httpx errors
            raise StoreUnavailableError(settings.chroma_url, type(exc).__name__) from exc
    settings.store_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.store_dir), settings=chroma_settings)


def _metadata(chunk: Chunk, version: str) -> dict[str, str | int]:
    return {
        "article_id": chunk.article_id,
        "article_hash": chunk.article_hash,
        "article_version": version,
        "title": chunk.title,
        "section": chunk.section,
        "kind": chunk.kind,
        "ordinal": chunk.ordinal,
        "start": chunk.start,
        "end": chunk.end,
        "url": chunk.url or "",
        "updated": chunk.updated or "",
        "review_status": chunk.review_status or "",
        "source_path": chunk.source_path,
        "citations": json.dumps(list(chunk.citations)),
        "sentences": json.dumps([[s.text, list(s.citations), s.start, s.end]
                                 for s in chunk.sentences]),
        "references": json.dumps({str(k): v for k, v in chunk.references.items()}),
    }


def chunk_from_record(chunk_id: str, meta: dict[str, Any]) -> Chunk:
    """Rebuild a Chunk from a stored record."""
    sentences = tuple(
        Sentence(str(t), tuple(int(n) for n in c), int(s), int(e))
        for t, c, s, e in json.loads(str(meta["sentences"]))
    )
    refs = {int(k): v for k, v in json.loads(str(meta.get("references") or "{}")).items()}
    return Chunk(
        id=chunk_id,
        article_id=str(meta["article_id"]),
        article_hash=str(meta["article_hash"]),
        title=str(meta["title"]),
        section=str(meta["section"]),
        kind=str(meta["kind"]),
        ordinal=int(meta["ordinal"]),
        sentences=sentences,
        references=refs,
        url=str(meta.get("url") or "") or None,
        updated=str(meta.get("updated") or "") or None,
        review_status=str(meta.get("review_status") or "") or None,
        source_path=str(meta.get("source_path") or ""),
    )


class ChunkStore:
    """Chunks and the article manifest in Chroma. Open with ``open_store``."""

    def __init__(self, settings: Settings, client: Any, chunks: Any, manifest: Any) -> None:
        self.settings = settings
        self._client = client
        self._chunks = chunks
        self._manifest = manifest
        self._manifest_cache: dict[str, ManifestEntry] | None = None
        self._signature: str | None = None  # of the cached manifest; reset when it changes
        self._valid: tuple[str, frozenset[str]] | None = None  # (signature, versions)
        self._count: tuple[str, int] | None = None  # (signature, collection size)

    @property
    def name(self) -> str:
        return self.settings.describe_store()

    @property
    def fingerprint(self) -> str:
        return str((self._chunks.metadata or {}).get("fingerprint", ""))

    # ------------------------------------------------------------------ reading

    def manifest(self, *, refresh: bool = False) -> dict[str, ManifestEntry]:
        """Committed articles by id."""
        if self._manifest_cache is None or refresh:
            entries: dict[str, ManifestEntry] = {}
            for rid, meta in self._iter_records(self._manifest):
                entries[rid] = ManifestEntry(
                    article_id=rid,
                    content_hash=str(meta["hash"]),
                    source_path=str(meta.get("path") or ""),
                    chunks=int(meta.get("chunks") or 0),
                    title=str(meta.get("title") or ""),
                    updated=str(meta.get("updated") or "") or None,
                )
            self._manifest_cache = entries
            self._signature = None
        return self._manifest_cache

    def signature(self) -> str:
        """Changes whenever any article version in the store changes (keeps indexes in step)."""
        import hashlib

        manifest = self.manifest()
        if self._signature is None:  # computed once per manifest, not on every query
            h = hashlib.sha256(self.fingerprint.encode())
            for version in sorted(e.version for e in manifest.values()):
                h.update(version.encode())
            self._signature = h.hexdigest()[:24]
        return self._signature

    def get_chunks(self, ids: Sequence[str]) -> dict[str, tuple[Chunk, list[float]]]:
        """Committed chunks by id, with their stored embeddings."""
        if not ids:
            return {}
        valid = self._valid_versions()
        res = self._guard(
            lambda: self._chunks.get(ids=list(ids), include=["metadatas", "embeddings"])
        )
        out: dict[str, tuple[Chunk, list[float]]] = {}
        for rid, meta, emb in zip(res["ids"], res["metadatas"], res["embeddings"], strict=True):
            if meta.get("article_version") in valid:
                out[rid] = (chunk_from_record(rid, meta), [float(x) for x in emb])
        return out

    def article_chunks(self, article_id: str) -> list[Chunk]:
        """The committed chunks of one article, in order."""
        entry = self.manifest().get(article_id)
        if entry is None:
            return []
        ids = [chunk_id(article_id, entry.content_hash, n) for n in range(entry.chunks)]
        res = self._guard(lambda: self._chunks.get(ids=ids, include=["metadatas"]))
        chunks = [chunk_from_record(i, m) for i, m in zip(res["ids"], res["metadatas"],
                                                            strict=True)
                  if m.get("article_version") == entry.version]
        return sorted(chunks, key=lambda c: c.ordinal)

    def _valid_versions(self) -> frozenset[str]:
        """Versions of the committed articles, computed once per manifest."""
        sig = self.signature()
        if self._valid is None or self._valid[0] != sig:
            self._valid = (sig, frozenset(e.version for e in self.manifest().values()))
        return self._valid[1]

    def _committed_count(self) -> int:
        """The collection's size, counted once per manifest (bounds a query's result count)."""
        sig = self.signature()
        if self._count is None or self._count[0] != sig:
            self._count = (sig, self.count_chunks())
        return self._count[1]

    def count_chunks(self) -> int:
        return int(self._guard(self._chunks.count))

    def iter_chunks(self) -> Iterator[Chunk]:
        """Every committed chunk (for lexical indexes and evaluation)."""
        valid = self._valid_versions()
        for rid, meta in self._iter_records(self._chunks):
            if meta.get("article_version") in valid:
                yield chunk_from_record(rid, meta)

    def search(self, embedding: Sequence[float], k: int) -> list[tuple[Chunk, float]]:
        """The ``k`` nearest committed chunks with cosine similarity, best first."""
        valid = self._valid_versions()
        if not valid:
            return []
        res = self._guard(
            lambda: self._chunks.query(
                query_embeddings=[list(embedding)],
                n_results=min(k + 8, max(1, self._committed_count())),
                include=["metadatas", "distances"],
            )
        )
        out: list[tuple[Chunk, float]] = []
        for rid, meta, dist in zip(
            res["ids"][0], res["metadatas"][0], res["distances"][0], strict=True
        ):
            if meta.get("article_version") in valid:
                out.append((chunk_from_record(rid, meta), 1.0 - float(dist)))
        return out[:k]

    # ------------------------------------------------------------------ writing

    def write_articles(
        self,
        items: Sequence[tuple[ManifestEntry, Sequence[Chunk], Sequence[Sequence[float]]]],
    ) -> None:
        """Commit new versions of articles: chunks first, manifest next, old versions last."""
        if not items:
            return
        ids: list[str] = []
        embeddings: list[list[float]] = []
        documents: list[str] = []
        metadatas: list[dict[str, str | int]] = []
        for entry, chunks, vectors in items:
            if len(chunks) != len(vectors) or len(chunks) != entry.chunks:
                raise StoreError(f"{entry.article_id}: chunk and vector counts differ")
            for chunk, vec in zip(chunks, vectors, strict=True):
                ids.append(chunk.id)
                embeddings.append(list(vec))
                documents.append(chunk.text)
                metadatas.append(_metadata(chunk, entry.version))
        for lo in range(0, len(ids), _PAGE):
            hi = lo + _PAGE
            self._guard(
                lambda lo=lo, hi=hi: self._chunks.upsert(
                    ids=ids[lo:hi],
                    embeddings=embeddings[lo:hi],
                    documents=documents[lo:hi],
                    metadatas=metadatas[lo:hi],
                )
            )
        self._put_manifest([e for e, _, _ in items])
        article_ids = [e.article_id for e, _, _ in items]
        versions = [e.version for e, _, _ in items]
        self._guard(
            lambda: self._chunks.delete(
                where={
                    "$and": [
                        {"article_id": {"$in": article_ids}},
                        {"article_version": {"$nin": versions}},
                    ]
                }
            )
        )

    def delete_articles(self, article_ids: Iterable[str]) -> None:
        """Remove articles: manifest first (readers stop seeing them), then their chunks."""
        ids = list(article_ids)
        for lo in range(0, len(ids), _PAGE):
            part = ids[lo: lo + _PAGE]
            self._guard(lambda part=part: self._manifest.delete(ids=part))
            self._guard(lambda part=part: self._chunks.delete(where={"article_id": {"$in": part}}))
        self._manifest_cache = None
        self._signature = None

    def needs_repair(self) -> bool:
        """True when the collection holds chunks the manifest does not account for."""
        expected = sum(e.chunks for e in self.manifest(refresh=True).values())
        return self.count_chunks() != expected

    def repair(self) -> int:
        """Delete chunks of uncommitted or superseded versions (left by an interrupted run)."""
        valid = {e.version for e in self.manifest(refresh=True).values()}
        stray = [rid for rid, meta in self._iter_records(self._chunks, fields=True)
                 if meta.get("article_version") not in valid]
        for lo in range(0, len(stray), _PAGE):
            part = stray[lo: lo + _PAGE]
            self._guard(lambda part=part: self._chunks.delete(ids=part))
        return len(stray)

    # ------------------------------------------------------------------ internals

    def _put_manifest(self, entries: Sequence[ManifestEntry]) -> None:
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self._guard(
            lambda: self._manifest.upsert(
                ids=[e.article_id for e in entries],
                embeddings=[[1.0] for _ in entries],
                documents=[e.title for e in entries],
                metadatas=[
                    {
                        "hash": e.content_hash,
                        "version": e.version,
                        "path": e.source_path,
                        "chunks": e.chunks,
                        "title": e.title,
                        "updated": e.updated or "",
                        "ingested_at": now,
                    }
                    for e in entries
                ],
            )
        )
        if self._manifest_cache is not None:
            for e in entries:
                self._manifest_cache[e.article_id] = e
            self._signature = None

    def _iter_records(
        self, collection: Any, *, fields: bool = True
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        offset = 0
        while True:
            page = self._guard(
                lambda offset=offset: collection.get(
                    include=["metadatas"] if fields else [], limit=_PAGE, offset=offset
                )
            )
            ids = page["ids"]
            if not ids:
                return
            metas = page.get("metadatas") or [{}] * len(ids)
            yield from zip(ids, metas, strict=True)
            if len(ids) < _PAGE:
                return
            offset += _PAGE

    def _guard(self, call: Any) -> Any:
        """Run a Chroma call; a lost server becomes StoreUnavailableError."""
        try:
            return call()
        except StoreError:
            raise
        except Exception as exc:
            if self.settings.chroma_url and _is_connection_error(exc):
                raise StoreUnavailableError(self.settings.chroma_url, str(exc)[:120]) from exc
            raise


def _is_connection_error(exc: BaseException) -> bool:
    text = f"{type(exc).__name__} {exc}".lower()
    return any(w in text for w in ("connect", "timeout", "timed out", "refused", "unreachable"))


def _names(settings: Settings, rebuild: bool) -> tuple[str, str]:
    base = settings.collection + (_REBUILD if rebuild else "")
    return base, f"{base}-articles"


def _existing(client: Any) -> set[str]:
    return {c if isinstance(c, str) else c.name for c in client.list_collections()}


def open_store(settings: Settings, *, create: bool = False, rebuild: bool = False) -> ChunkStore:
    """Open (or create) the store and check its fingerprint.

    Args:
        create: create the collections when missing (ingest); otherwise a missing index is an
            error that says to run ingest.
        rebuild: open a fresh side collection that ``commit_rebuild`` swaps in at the end, so
            the current index serves until the rebuild is complete.

    Raises:
        StoreUnavailableError: the Chroma server does not answer.
        StoreMissingError: no index and ``create`` is False.
        FingerprintMismatchError: the index was built with another model or chunker.
    """
    store_name = settings.describe_store()
    if not create and not settings.chroma_url and not (
            settings.store_dir / "chroma.sqlite3").is_file():
        # checked before Chroma opens the folder: asking must not leave an empty store behind
        raise StoreMissingError(f"no index in {store_name}; build it with "
                                "`followup ingest corpus/`")
    client = _client(settings)
    try:
        existing = _existing(client)
    except Exception as exc:
        if settings.chroma_url:
            raise StoreUnavailableError(settings.chroma_url, type(exc).__name__) from exc
        raise
    chunks_name, manifest_name = _names(settings, rebuild)
    fp = fingerprint(settings)
    if rebuild:
        for name in (chunks_name, manifest_name):
            if name in existing:
                client.delete_collection(name)
        existing -= {chunks_name, manifest_name}
    if chunks_name not in existing:
        if not create:
            raise StoreMissingError(
                f"no index in {store_name} (collection {chunks_name!r}); build it with "
                "`followup ingest corpus/`"
            )
        chunks = client.create_collection(
            chunks_name,
            embedding_function=None,
            configuration={"hnsw": {"space": "cosine"}},
            metadata={"fingerprint": fp, "created_by": "followup"},
        )
    else:
        chunks = client.get_collection(chunks_name, embedding_function=None)
        stored = str((chunks.metadata or {}).get("fingerprint", ""))
        if stored != fp:
            raise FingerprintMismatchError(
                f"the index in {store_name} was built with [{stored or 'unknown'}] but the "
                f"settings ask for [{fp}]; re-run ingest with --rebuild to rebuild it, or "
                "restore the settings it was built with"
            )
    manifest = client.get_or_create_collection(
        manifest_name, embedding_function=None, metadata={"role": "article manifest"}
    )
    return ChunkStore(settings, client, chunks, manifest)


def commit_rebuild(store: ChunkStore) -> ChunkStore:
    """Swap a finished rebuild in place of the live index (old collections are dropped)."""
    settings = store.settings
    client = store._client
    live_chunks, live_manifest = _names(settings, rebuild=False)
    existing = _existing(client)
    for name in (live_chunks, live_manifest):
        if name in existing:
            client.delete_collection(name)
    store._chunks.modify(name=live_chunks)
    store._manifest.modify(name=live_manifest)
    return open_store(settings)


_LOCK_POLL_S = 0.5


def lock_path(settings: Settings) -> Path:
    """The writer lock of the configured store (a file in the local store folder; for a
    Chroma server, named after the server and collection)."""
    if not settings.chroma_url:
        return settings.store_dir / f".ingest-{settings.collection}.lock"
    server = hashlib.sha256(settings.chroma_url.encode()).hexdigest()[:12]
    return settings.store_dir / f".ingest-{settings.collection}-server-{server}.lock"


@contextlib.contextmanager
def writer_lock(settings: Settings, wait_s: float | None = None,
                on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the store's writer lock: a second ingest into the same store (from this machine)
    waits up to ``wait_s`` (default ``settings.ingest_wait_s``), then fails with StoreBusyError;
    it never writes beside the first. The lock goes with the process if it dies."""
    import fcntl

    path = lock_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    limit = settings.ingest_wait_s if wait_s is None else wait_s
    deadline = time.monotonic() + limit
    with path.open("a+b") as handle:
        told = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StoreBusyError(
                        f"another ingest into {settings.describe_store()} is running (lock "
                        f"{path}); wait for it to finish, or set FOLLOWUP_INGEST_WAIT_S to wait "
                        "longer") from None
                if on_wait is not None and not told:
                    on_wait(f"waiting for another ingest into {settings.describe_store()}")
                    told = True
                time.sleep(_LOCK_POLL_S)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
