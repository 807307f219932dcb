"""The web chat in a real browser (Debian's chromium driven by Playwright) and through
gradio_client's /ask; screenshots go to docs/ with FOLLOWUP_SCREENSHOTS=1."""

from __future__ import annotations

import concurrent.futures
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gradio_client import Client
from playwright.sync_api import Browser, Page, expect, sync_playwright

import followup.chat_app as chat_app
from followup.answering.engine import Engine
from followup.settings import Settings
from tests.conftest import CORPUS, ROOT, ChromaServer, free_port

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        "--disable-dev-shm-usage"]
# The README's screenshots are refreshed only when asked (FOLLOWUP_SCREENSHOTS=1, `make
# screenshots`): a plain test run leaves the tree clean.
DOCS = ROOT / "docs" if os.environ.get("FOLLOWUP_SCREENSHOTS") == "1" else Path(
    tempfile.gettempdir()) / "followup-screenshots"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: apt-get install chromium (.ci/run does)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def ask(page: Page, question: str) -> Any:
    turns = page.locator(".conversation .turn")
    before = turns.count()
    page.locator("#question textarea").fill(question)
    page.locator("#send").click()
    turn = turns.nth(before)
    expect(turn.locator(".disclaimer, .error")).to_be_visible(timeout=60_000)
    return turn


def test_conversation_with_follow_up_citation_and_passage(browser: Browser, chat_url: str
                                                          ) -> None:
    page = browser.new_page(viewport={"width": 1200, "height": 1300})
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(chat_url, wait_until="load")
    expect(page.locator("#status")).to_contain_text("articles")
    expect(page.locator(".example").first).to_be_visible()
    first = ask(page, "Can withdrawal cause muscle spasms?")
    expect(first.locator(".references li").first).to_be_visible()
    expect(first.locator(".disclaimer")).to_contain_text("healthcare professionals")
    second = ask(page, "What about baclofen?")
    expect(second.locator(".interpreted")).to_contain_text("baclofen")
    expect(second.locator(".answer-body")).to_contain_text("baclofen")
    expect(page.locator(".suggestion").first).to_be_visible()
    second.locator("a.cite").first.click()
    opened = second.locator("details[open]")
    expect(opened).to_have_count(1)
    expect(opened.locator(".passage mark").first).to_be_visible()
    expect(opened.locator(".passage-where")).to_be_visible()
    DOCS.mkdir(exist_ok=True)
    page.screenshot(path=str(DOCS / "chat-follow-up.png"), full_page=True)
    assert dialogs == []
    page.close()


def test_refusal_patient_view_and_escaping(browser: Browser, chat_url: str) -> None:
    page = browser.new_page(viewport={"width": 1200, "height": 1100})
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(chat_url, wait_until="load")
    refusal = ask(page, "What is the capital of France?")
    expect(refusal.locator(".refusal")).to_contain_text("Not covered by the articles")
    expect(refusal.locator(".closest li").first).to_be_visible()
    page.screenshot(path=str(DOCS / "chat-refusal.png"), full_page=True)

    page.locator("#new-conversation").click()
    expect(page.locator(".conversation .turn")).to_have_count(0)
    page.get_by_label("Patient or caregiver").check()
    patient = ask(page, "How should benzodiazepines be tapered?")
    expect(patient.locator(".patient-note")).to_contain_text("doctor")
    page.screenshot(path=str(DOCS / "chat-patient.png"), full_page=True)

    escaped = ask(page, "How long do grapefruit juice effects last on simvastatin?")
    for link in escaped.locator("a.cite").all():
        link.click()
    text = escaped.inner_text()
    assert "<script>alert('x')</script>" in text or "<img src=x" in text
    assert page.evaluate("window.__pwned === undefined")
    assert page.locator(".conversation script").count() == 0
    assert page.locator(".conversation img").count() == 0
    assert dialogs == []
    page.close()


def test_export_and_sessions_are_isolated(browser: Browser, chat_url: str) -> None:
    a = browser.new_context().new_page()
    b = browser.new_context().new_page()
    a.goto(chat_url, wait_until="load")
    b.goto(chat_url, wait_until="load")
    ask(a, "Does omeprazole interact with clopidogrel?")
    ask(b, "How should benzodiazepines be tapered?")
    assert "clopidogrel" not in b.locator(".conversation").inner_text().lower()
    assert "benzodiazepines be tapered" not in a.locator(".conversation").inner_text()
    with a.expect_download() as info:
        a.locator("#export").click()
    exported = Path(info.value.path()).read_text(encoding="utf-8")
    assert "Does omeprazole interact with clopidogrel?" in exported
    assert "**References**" in exported and "healthcare professionals" in exported


def test_api_clients_never_share_history(chat_url: str) -> None:
    conversations = {
        "baclofen": [{"role": "user", "content": "Can withdrawal cause muscle spasms?"}],
        "ppi": [{"role": "user", "content": "Does omeprazole interact with clopidogrel?"}],
    }

    def run(name: str) -> dict[str, Any]:
        client = Client(chat_url, verbose=False)
        return dict(client.predict("What about pantoprazole?" if name == "ppi" else
                                   "What about baclofen?", json.dumps(conversations[name]),
                                   "clinician", api_name="/ask"))

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        results = dict(zip(conversations, pool.map(run, conversations), strict=True))
    assert "muscle spasms" in results["baclofen"]["standalone_question"]
    assert "clopidogrel" not in results["baclofen"]["standalone_question"]
    assert "clopidogrel" in results["ppi"]["standalone_question"]
    assert "spasms" not in results["ppi"]["standalone_question"]
    for r in results.values():
        assert {"question", "standalone_question", "answer", "sentences", "references",
                "passages", "abstained", "disclaimer", "suggestions", "timings_ms"} <= set(r)


def test_api_errors_are_clear(chat_url: str) -> None:
    client = Client(chat_url, verbose=False)
    with pytest.raises(Exception, match="empty"):
        client.predict("   ", "[]", "clinician", api_name="/ask")
    with pytest.raises(Exception, match="not valid JSON"):
        client.predict("What about baclofen?", "{oops", "clinician", api_name="/ask")


def test_the_benchs_http_client_gets_what_gradio_client_gets(chat_url: str) -> None:
    """`bench chat`'s light client (Gradio's HTTP call API, one kept-alive connection)
    answers a follow-up as gradio_client does, and reports the chat's errors."""
    from followup.bench.chat import CallApi

    history = json.dumps([{"role": "user", "content": "Can withdrawal cause muscle spasms?"},
                          {"role": "assistant", "content": "Yes."}])
    light = CallApi(chat_url)
    ours = light.predict("What about baclofen?", history, "clinician")
    theirs = Client(chat_url, verbose=False).predict("What about baclofen?", history,
                                                     "clinician", api_name="/ask")
    assert ours["standalone_question"] == theirs["standalone_question"]
    assert ours["answer"] == theirs["answer"] and "baclofen" in ours["answer"]
    with pytest.raises(RuntimeError, match="empty"):
        light.predict("   ", "[]", "clinician")
    again = light.predict("What about baclofen?", history, "clinician")  # same connection
    assert again["answer"] == ours["answer"]


def test_no_store_says_to_ingest(browser: Browser, tmp_path: Path) -> None:
    settings = Settings(store_dir=tmp_path / "none", chat_port=free_port())
    app = chat_app.build_app(settings)
    app.launch(prevent_thread_lock=True, quiet=True, **chat_app.launch_options(settings))
    try:
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{settings.chat_port}/", wait_until="load")
        expect(page.locator("#status")).to_contain_text("followup ingest corpus/")
        turn = ask(page, "Can withdrawal cause muscle spasms?")
        expect(turn.locator(".error")).to_contain_text("followup ingest")
        page.close()
    finally:
        app.close()


def test_chroma_server_down_then_back(browser: Browser, tmp_path: Path, embedder: Any) -> None:
    """Server down: a message in the chat, the page keeps serving; back: answers again."""
    import shutil

    from followup.ingest import ingest

    server = ChromaServer(tmp_path / "chroma-data")
    server.start()
    try:
        corpus = tmp_path / "corpus"
        corpus.mkdir()
        shutil.copy(CORPUS / "baclofen-withdrawal.md", corpus)
        settings = Settings(chroma_url=server.url, progress=False, chat_port=free_port())
        ingest([corpus], settings, embedder=embedder)
        app = chat_app.build_app(settings, Engine(settings, embedder=embedder))
        app.launch(prevent_thread_lock=True, quiet=True, **chat_app.launch_options(settings))
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{settings.chat_port}/", wait_until="load")
        ok = ask(page, "What is baclofen withdrawal?")
        expect(ok.locator(".answer-body")).to_be_visible()
        server.stop()
        down = ask(page, "What about intrathecal pumps?")
        expect(down.locator(".error")).to_contain_text(server.url)
        server.start()
        back = ask(page, "What is baclofen withdrawal?")
        expect(back.locator(".answer-body")).to_be_visible()
        page.close()
        app.close()
    finally:
        server.stop()
