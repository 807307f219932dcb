"""The server path: a real `chroma run` on 127.0.0.1, started and stopped (by PID) here."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from followup.errors import StoreUnavailableError
from followup.ingest import ingest
from followup.settings import Settings
from followup.store import open_store
from tests.conftest import ROOT, ChromaServer, CountingEmbedder, free_port

pytestmark = pytest.mark.slow


@pytest.fixture()
def chroma_server(tmp_path: Path) -> Iterator[str]:
    server = ChromaServer(tmp_path / "chroma-data")
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


def test_ingest_and_search_through_a_chroma_server(chroma_server: str, small_corpus: Path,
                                                   counting: CountingEmbedder) -> None:
    settings = Settings(chroma_url=chroma_server, progress=False)
    report = ingest([small_corpus], settings, embedder=counting)
    assert report.added == 4 and report.failed == [] and report.store == chroma_server
    again = ingest([small_corpus], settings, embedder=counting)
    assert again.unchanged == 4 and again.added == 0
    store = open_store(settings)
    assert len(store.manifest()) == 4 and store.count_chunks() == report.chunks
    hits = store.search(counting.embed(["baclofen pump failure"])[0], 3)
    assert hits[0][0].article_id == "baclofen-withdrawal"
    # the CLI against the same server
    out = subprocess.run(
        [sys.executable, "-m", "followup.cli", "status", "--chroma-url", chroma_server,
         "--json"], cwd=ROOT, capture_output=True, text=True, check=True,
    )
    assert '"articles": 4' in out.stdout


def test_unreachable_server_is_one_clear_message() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(StoreUnavailableError, match=url):
        open_store(Settings(chroma_url=url))
    proc = subprocess.run(
        [sys.executable, "-m", "followup.cli", "ingest", "corpus", "--chroma-url", url],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and url in proc.stderr and "chroma run" in proc.stderr


def test_killed_ingest_process_leaves_a_consistent_store(tmp_path: Path) -> None:
    """SIGKILL a real `followup ingest` mid-run, run it again: no duplicate or orphan chunk."""
    store = tmp_path / "store"
    env = {**os.environ, "FOLLOWUP_CHUNKS_PER_WRITE": "16", "FOLLOWUP_PROGRESS": "true"}
    cmd = [sys.executable, "-m", "followup.cli", "ingest", "corpus", "--store", str(store)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    # wait until a first batch is committed, then kill without warning, mid-embedding
    first = proc.stderr.readline()
    assert "articles written" in first, first
    written = int(first.split()[1].split("/")[0])
    total = int(first.split()[1].split("/")[1])
    assert written < total
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = open_store(Settings(store_dir=store))
    assert 0 < len(partial.manifest()) < total
    del partial
    done = subprocess.run([*cmd, "--json"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    settings = Settings(store_dir=store)
    st = open_store(settings)
    manifest = st.manifest(refresh=True)
    chunks = list(st.iter_chunks())
    n = len([p for p in (ROOT / "corpus").glob("*.md") if p.name != "README.md"])
    assert len(manifest) == n
    assert st.count_chunks() == len(chunks) == sum(e.chunks for e in manifest.values())
    assert len({c.id for c in chunks}) == len(chunks)
