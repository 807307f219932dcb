"""``followup bench chat``: launch time, first streamed token and full answer in a real
browser, and N concurrent gradio_client sessions for a while (p50/p95, errors, memory)."""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from followup.bench import write_figures

QUESTIONS = [
    ("Can withdrawal cause muscle spasms?", "What about baclofen?"),
    ("How should benzodiazepines be tapered?", "How long does it take?"),
    ("Does omeprazole interact with clopidogrel?", "What about pantoprazole?"),
    ("What is the maximum daily dose of acetaminophen?", "What about in liver disease?"),
    ("Which drugs raise lithium levels?", "What about thiazides?"),
]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        "--disable-dev-shm-usage"]


def _conversations() -> list[tuple[list[str], str]]:
    """The load: every conversation of the hand-written eval suites (both audiences), else,
    where the evals package is not installed, the five fixed pairs above. A malformed suite is
    its own error (SuiteError), not a quietly different load."""
    try:
        from followup.evals.suite import load_suites, shipped
    except ImportError:
        return [(list(pair), "clinician") for pair in QUESTIONS]
    suites = load_suites([shipped("suites")])
    return [([t.ask for t in c.turns], c.audience) for s in suites for c in s.cases]


class CallApi:
    """One session's client of Gradio's HTTP call API (``POST /gradio_api/call/ask``, then the
    result's event stream), on one kept-alive connection: what a curl user or a proxy's health
    check does, at a fraction of gradio_client's CPU, which runs on the chat's own two cores."""

    def __init__(self, url: str, api_name: str = "ask") -> None:
        parts = urllib.parse.urlsplit(url)
        self._conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port,
                                                timeout=120)
        self._path = f"{parts.path.rstrip('/')}/gradio_api/call/{api_name}"

    def predict(self, *data: Any, api_name: str = "/ask") -> Any:
        self._conn.request("POST", self._path, body=json.dumps({"data": list(data)}),
                           headers={"Content-Type": "application/json"})
        started = self._conn.getresponse()
        body = started.read()
        if started.status != 200:
            raise RuntimeError(f"HTTP {started.status}: {body[:80]!r}")
        event_id = json.loads(body)["event_id"]
        self._conn.request("GET", f"{self._path}/{event_id}")
        stream = self._conn.getresponse()
        event = ""
        for raw in stream:
            line = raw.decode("utf-8").rstrip("\n")
            if line.startswith("event:"):
                event = line.partition(":")[2].strip()
            elif line.startswith("data:") and event in ("complete", "error"):
                payload = json.loads(line.partition(":")[2])
                stream.read()  # the rest of the stream, so the connection can be reused
                if event == "error":
                    raise RuntimeError(str((payload or {}).get("error"))[:200])
                return payload[0]
        raise RuntimeError("the event stream ended without a result")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident memory of a process in MB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return (int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024)


def bench_chat(args: argparse.Namespace) -> int:
    from gradio_client import Client
    from playwright.sync_api import sync_playwright

    from followup.stats import percentile

    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    cmd = [sys.executable, "-m", "followup.cli", "chat", "--port", str(port)]
    if args.store:
        cmd += ["--store", args.store]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "FOLLOWUP_CHAT_CONCURRENCY":
                                 str(args.concurrency)})
    figures: dict[str, Any] = {}
    try:
        while True:
            try:
                with urllib.request.urlopen(url, timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError("the chat exited; is there an index? (make run)") from None
                time.sleep(0.1)
        figures["launch_to_first_page_s"] = time.perf_counter() - t0
        print(f"launch to first page: {figures['launch_to_first_page_s']:.1f} s", flush=True)

        first_token: list[float] = []
        full: list[float] = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page()
            page.goto(url, wait_until="load")
            for i, (q, _) in enumerate(QUESTIONS * 2):
                turn = page.locator(".conversation .turn").nth(i)
                page.locator("#question textarea").fill(q)
                start = time.perf_counter()
                page.locator("#send").click()
                turn.locator(".streaming .sentence, .streaming:not(:empty), .answer-body, "
                             ".refusal").first.wait_for(timeout=60_000)
                page.wait_for_function(
                    "(i) => { const t = document.querySelectorAll('.conversation .turn')[i];"
                    " const s = t && t.querySelector('.answer'); return s && "
                    "s.textContent.replace('▍','').trim().length > 0; }", arg=i, timeout=60_000)
                first_token.append(time.perf_counter() - start)
                turn.locator(".disclaimer").wait_for(timeout=60_000)
                full.append(time.perf_counter() - start)
            browser.close()
        figures["browser_first_token_s"] = {"p50": percentile(first_token, 0.5),
                                            "max": max(first_token)}
        figures["browser_full_answer_s"] = {"p50": percentile(full, 0.5), "max": max(full)}
        print(f"in the browser: first token p50 {percentile(first_token, 0.5):.2f} s "
              f"(max {max(first_token):.2f}); full answer p50 {percentile(full, 0.5):.2f} s "
              f"(max {max(full):.2f})", flush=True)

        latencies: list[float] = []
        errors: list[str] = []
        stop_at = time.perf_counter() + args.seconds
        lock = threading.Lock()
        peak = [0.0]

        conversations = _conversations()
        print(f"load: {len(conversations)} conversations, "
              f"{len({q for c, _ in conversations for q in c})} distinct questions",
              flush=True)

        def session(n: int) -> None:
            client: Any = CallApi(url) if args.client == "http" else Client(url, verbose=False)
            k = n * 7  # sessions start at different conversations and walk through them all
            while time.perf_counter() < stop_at:
                turns, audience = conversations[k % len(conversations)]
                k += 1
                history: list[dict[str, Any]] = []
                for q in turns:
                    if time.perf_counter() >= stop_at:
                        break
                    t = time.perf_counter()
                    try:
                        out = client.predict(q, json.dumps(history), audience,
                                             api_name="/ask")
                        with lock:
                            latencies.append(time.perf_counter() - t)
                        history += [{"role": "user", "content": q},
                                    {"role": "assistant", "content": out["answer"],
                                     "metadata": out.get("metadata") or {}}]
                    except Exception as exc:  # counted, the bench goes on
                        with lock:
                            errors.append(f"{type(exc).__name__}: {str(exc)[:80]}")

        def watch() -> None:
            while time.perf_counter() < stop_at:
                peak[0] = max(peak[0], _rss_mb(proc.pid)[0])
                time.sleep(0.5)

        threads = [threading.Thread(target=session, args=(n,)) for n in range(args.sessions)]
        threads.append(threading.Thread(target=watch))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        _, hwm = _rss_mb(proc.pid)
        figures["load"] = {
            "sessions": args.sessions, "seconds": args.seconds, "answers": len(latencies),
            "p50_s": percentile(latencies, 0.5), "p95_s": percentile(latencies, 0.95),
            "mean_s": statistics.fmean(latencies) if latencies else float("nan"),
            "errors": len(errors), "server_rss_peak_mb": max(peak[0], hwm),
            "concurrency_limit": args.concurrency, "client": args.client,
        }
        ld = figures["load"]
        print(f"{args.sessions} concurrent {args.client} sessions for {args.seconds} s: "
              f"{ld['answers']} "
              f"answers, p50 {ld['p50_s']:.2f} s, p95 {ld['p95_s']:.2f} s, errors "
              f"{ld['errors']}, server peak memory {ld['server_rss_peak_mb']:.0f} MB", flush=True)
        if errors:
            print("  first errors:", errors[:3])
        print("targets: first token <= 1 s, p95 full answer <= 1.5 s at 20 sessions, 0 errors")
        write_figures(args.json, figures)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
    return 0
