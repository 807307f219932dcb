"""Incremental, idempotent ingest into a real embedded Chroma store with the real model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from followup.errors import FingerprintMismatchError, StoreMissingError
from followup.ingest import ingest
from followup.settings import Settings
from followup.store import ChunkStore, open_store
from tests.conftest import CORPUS, CountingEmbedder


def _consistent(store: ChunkStore) -> None:
    """No duplicate, orphan or half article: the manifest accounts for every chunk."""
    manifest = store.manifest(refresh=True)
    chunks = list(store.iter_chunks())
    assert store.count_chunks() == sum(e.chunks for e in manifest.values()) == len(chunks)
    per_article: dict[str, int] = {}
    for c in chunks:
        assert c.article_hash == manifest[c.article_id].content_hash
        per_article[c.article_id] = per_article.get(c.article_id, 0) + 1
    assert per_article == {k: e.chunks for k, e in manifest.items()}
    assert len({c.id for c in chunks}) == len(chunks)


def test_ingest_then_reingest_costs_nothing(small_corpus: Path, settings: Settings,
                                            counting: CountingEmbedder) -> None:
    first = ingest([small_corpus], settings, embedder=counting)
    assert (first.added, first.updated, first.unchanged, first.failed) == (4, 0, 0, [])
    assert counting.texts == first.chunks > 4
    calls = counting.calls
    second = ingest([small_corpus], settings, embedder=counting)
    assert (second.added, second.updated, second.unchanged) == (0, 0, 4)
    assert counting.calls == calls, "unchanged articles must cost no embedding"
    assert second.chunks == first.chunks and second.exit_code == 0
    _consistent(open_store(settings))


def test_changed_article_is_replaced_whole(small_corpus: Path, settings: Settings,
                                           counting: CountingEmbedder) -> None:
    ingest([small_corpus], settings, embedder=counting)
    store = open_store(settings)
    old = {c.id for c in store.iter_chunks() if c.article_id == "baclofen-withdrawal"}
    path = small_corpus / "baclofen-withdrawal.md"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("## References", "- An added bullet about pumps 1\n\n"
                                 "## References", 1), encoding="utf-8")
    before = counting.texts
    report = ingest([small_corpus], settings, embedder=counting)
    assert (report.added, report.updated, report.unchanged) == (0, 1, 3)
    store = open_store(settings)
    new = [c for c in store.iter_chunks() if c.article_id == "baclofen-withdrawal"]
    assert counting.texts - before == len(new), "only the changed article is embedded"
    assert not old & {c.id for c in new}
    assert any("added bullet about pumps" in c.text for c in new)
    _consistent(store)


def test_prune_removes_articles_whose_files_are_gone(small_corpus: Path, settings: Settings,
                                                     counting: CountingEmbedder) -> None:
    ingest([small_corpus], settings, embedder=counting)
    (small_corpus / "serotonin-syndrome.md").unlink()
    kept = ingest([small_corpus], settings, embedder=counting)
    assert kept.articles == 4 and kept.removed == 0
    pruned = ingest([small_corpus], settings, embedder=counting, prune=True)
    assert pruned.removed == 1 and pruned.articles == 3
    store = open_store(settings)
    assert "serotonin-syndrome" not in store.manifest()
    _consistent(store)


def test_prune_keeps_a_file_that_broke(small_corpus: Path, settings: Settings,
                                       counting: CountingEmbedder) -> None:
    ingest([small_corpus], settings, embedder=counting)
    (small_corpus / "serotonin-syndrome.md").write_bytes(b"\xff\xfe broken \x00")
    report = ingest([small_corpus], settings, embedder=counting, prune=True)
    assert report.removed == 0 and report.articles == 4 and report.exit_code == 1
    assert "serotonin-syndrome" in open_store(settings).manifest()


def test_interrupted_ingest_never_shows_half_an_article(small_corpus: Path,
                                                         counting: CountingEmbedder,
                                                         tmp_path: Path) -> None:
    settings = Settings(store_dir=tmp_path / "store", progress=False, chunks_per_write=1)

    def stop(done: int) -> None:
        if done >= 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ingest([small_corpus], settings, embedder=counting, on_batch=stop)
    store = open_store(settings)
    assert len(store.manifest()) == 2
    _consistent(store)
    report = ingest([small_corpus], settings, embedder=counting)
    assert (report.added, report.unchanged) == (2, 2)
    _consistent(open_store(settings))


def test_crash_between_chunks_and_manifest_is_repaired(small_corpus: Path, settings: Settings,
                                                       counting: CountingEmbedder,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(self: ChunkStore, entries: object) -> None:
        raise RuntimeError("power cut")

    monkeypatch.setattr(ChunkStore, "_put_manifest", crash)
    with pytest.raises(RuntimeError):
        ingest([small_corpus], settings, embedder=counting)
    monkeypatch.undo()
    store = open_store(settings)
    assert store.count_chunks() > 0 and store.manifest() == {}
    assert list(store.iter_chunks()) == [], "uncommitted chunks are invisible"
    vec = counting.embed(["baclofen withdrawal"])[0]
    assert store.search(vec, 5) == []
    report = ingest([small_corpus], settings, embedder=counting)
    assert report.repaired_chunks > 0 and report.added == 4
    _consistent(open_store(settings))


def test_search_returns_cited_chunks(small_corpus: Path, settings: Settings,
                                     counting: CountingEmbedder) -> None:
    ingest([small_corpus], settings, embedder=counting)
    store = open_store(settings)
    hits = store.search(counting.embed(["What about baclofen withdrawal?"])[0], 3)
    assert hits and hits[0][0].article_id == "baclofen-withdrawal"
    top = hits[0][0]
    assert top.references and all(top.references.values())
    assert all(s.citations for s in top.sentences)


def test_fingerprint_mismatch_names_rebuild(small_corpus: Path, settings: Settings,
                                            counting: CountingEmbedder) -> None:
    ingest([small_corpus], settings, embedder=counting)
    other = settings.model_copy(update={"chunk_max_chars": 400})
    with pytest.raises(FingerprintMismatchError, match="--rebuild"):
        open_store(other)
    with pytest.raises(FingerprintMismatchError):
        ingest([small_corpus], other, embedder=counting)

    # An interrupted rebuild leaves the live index serving as it was.
    def stop(done: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ingest([small_corpus], other.model_copy(update={"chunks_per_write": 1}),
               embedder=counting, rebuild=True, on_batch=stop)
    live = open_store(settings)
    assert len(live.manifest()) == 4
    _consistent(live)

    report = ingest([small_corpus], other, embedder=counting, rebuild=True)
    assert report.added == 4 and report.articles == 4
    rebuilt = open_store(other)
    assert "max_chars=400" in rebuilt.fingerprint
    _consistent(rebuilt)
    with pytest.raises(FingerprintMismatchError):
        open_store(settings)


def test_missing_store_says_to_ingest(settings: Settings) -> None:
    with pytest.raises(StoreMissingError, match="followup ingest"):
        open_store(settings)


def test_whole_sample_corpus_and_seed(settings: Settings, embedder: object,
                                      tmp_path: Path) -> None:
    seed_dir = tmp_path / "seed"
    seed_dir.mkdir()
    from tests.conftest import SEED

    shutil.copy(SEED, seed_dir)
    report = ingest([CORPUS, seed_dir], settings, embedder=embedder)  # type: ignore[arg-type]
    n = len([p for p in CORPUS.glob("*.md") if p.name != "README.md"])
    assert report.added == n + 1 and report.failed == []
    assert [w["path"] for w in report.warnings] == [str(seed_dir / SEED.name)]
    data = report.to_json()
    assert {"added", "updated", "unchanged", "removed", "failed", "articles", "chunks",
            "seconds"} <= set(data)
    json.dumps(data)
