"""Several writers and readers on one store: the writer lock, and a running engine that answers
from an ingest made by another process without a restart."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from followup.answering.engine import Engine
from followup.embedders import Embedder
from followup.errors import StoreBusyError
from followup.ingest import ingest
from followup.settings import Settings
from followup.store import open_store, writer_lock
from tests.conftest import CORPUS


def test_a_second_writer_waits_then_fails_clearly(settings: Settings) -> None:
    with (writer_lock(settings), pytest.raises(StoreBusyError, match="another ingest"),
          writer_lock(settings, wait_s=0.3)):
        pass
    with writer_lock(settings, wait_s=0.3):  # released: taken at once
        pass


def test_two_ingests_at_once_lose_nothing(small_corpus: Path, settings: Settings,
                                          embedder: Embedder) -> None:
    """Two ingests into one store at the same time: the second waits for the first; every
    article of both is in the store afterwards, once."""
    other = small_corpus.parent / "other"
    other.mkdir()
    for name in ("clonidine-beta-blocker-rebound", "opioid-tapering"):
        shutil.copy(CORPUS / f"{name}.md", other / f"{name}.md")
    errors: list[BaseException] = []

    def run(folder: Path) -> None:
        try:
            ingest([folder], settings, embedder=embedder)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(f,)) for f in (small_corpus, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    manifest = open_store(settings).manifest(refresh=True)
    assert len(manifest) == 6


def test_a_running_engine_answers_from_a_later_ingest(small_corpus: Path, settings: Settings,
                                                      embedder: Embedder) -> None:
    ingest([small_corpus], settings, embedder=embedder)
    live = settings.model_copy(update={"store_refresh_s": 0.0})
    engine = Engine(live, embedder=embedder)
    before = engine.ask("Is it safe to stop clonidine suddenly?")
    assert "clonidine-beta-blocker-rebound" not in before.cited_articles()
    shutil.copy(CORPUS / "clonidine-beta-blocker-rebound.md", small_corpus)
    ingest([small_corpus], settings, embedder=embedder)  # as another process would
    after = engine.ask("Is it safe to stop clonidine suddenly?")
    assert "clonidine-beta-blocker-rebound" in after.cited_articles()
