"""Several chat workers on one Chroma server (the README's recipe): each worker is its own
`followup chat` process on its own port; both answer a conversation the same way, and an
ingest into the server is answered from by both without a restart."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from followup.ingest import ingest
from followup.settings import Settings
from tests.conftest import CORPUS, ROOT, ChromaServer, free_port

pytestmark = pytest.mark.slow


def _start_worker(port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "followup.cli", "chat"], cwd=ROOT,
                            env={**env, "FOLLOWUP_CHAT_PORT": str(port)},
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"worker on {port} exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"worker on {port} did not start: {log.read_text()[-2000:]}")


@pytest.fixture()
def two_workers(tmp_path: Path, small_corpus: Path) -> Iterator[tuple[list[str], Settings]]:
    server = ChromaServer(tmp_path / "chroma-data")
    server.start()
    settings = Settings(chroma_url=server.url, store_dir=tmp_path / "local", progress=False)
    ingest([small_corpus], settings)
    env = {**os.environ, "FOLLOWUP_CHROMA_URL": server.url,
           "FOLLOWUP_STORE_DIR": str(tmp_path / "local"), "FOLLOWUP_STORE_REFRESH_S": "0",
           "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    ports = [free_port(), free_port()]
    procs = []
    try:
        for port in ports:
            procs.append(_start_worker(port, env, tmp_path / f"worker-{port}.log"))
        yield [f"http://127.0.0.1:{p}/" for p in ports], settings
    finally:
        for proc in procs:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        server.stop()


def _converse(url: str, questions: list[str]) -> list[dict[str, Any]]:
    from gradio_client import Client

    client = Client(url, verbose=False)
    history: list[dict[str, Any]] = []
    out = []
    for q in questions:
        result = client.predict(q, json.dumps(history), "clinician", api_name="/ask")
        answer = result if isinstance(result, dict) else json.loads(result)
        out.append(answer)
        history += [{"role": "user", "content": q},
                    {"role": "assistant", "content": answer["answer"],
                     "metadata": answer["metadata"]}]
    return out


def test_two_workers_answer_alike_and_see_a_new_ingest(
        two_workers: tuple[list[str], Settings], small_corpus: Path) -> None:
    urls, settings = two_workers
    questions = ["What is baclofen withdrawal?", "How is it treated?"]
    a, b = (_converse(u, questions) for u in urls)
    assert [x["standalone_question"] for x in a] == [x["standalone_question"] for x in b]
    assert [x["sentences"] for x in a] == [x["sentences"] for x in b]
    assert not a[1]["abstained"] and "baclofen" in a[1]["standalone_question"]
    shutil.copy(CORPUS / "clonidine-beta-blocker-rebound.md", small_corpus)
    ingest([small_corpus], settings)  # into the server, by another process's code path
    for url in urls:
        answer = _converse(url, ["Is it safe to stop clonidine suddenly?"])[0]
        assert "clonidine-beta-blocker-rebound" in answer["cited_articles"]
