"""The web chat for clinicians (Gradio). Gradio is imported here only.

``build_app(settings)`` returns the app unlaunched (tests drive it); ``main()`` launches it on
127.0.0.1:7860 by default (``followup chat`` / ``python chat_app.py``). The machine API is the
named endpoint ``/ask(question, history_json, audience)`` returning the JSON of
``followup ask --json``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import followup  # noqa: F401  (offline and no-telemetry switches first)
from followup.answering.contextualize import Turn
from followup.answering.engine import Engine
from followup.errors import FollowupError, InputError, StoreError, StoreMissingError
from followup.render import CLICK_JS, CSS, conversation_markdown, render_conversation
from followup.settings import Settings, load_settings

EXAMPLES = [
    "Can withdrawal cause muscle spasms?",
    "How should benzodiazepines be tapered?",
    "Does omeprazole interact with clopidogrel?",
    "What is the maximum daily dose of acetaminophen?",
]
N_SUGGESTIONS = 4
AUDIENCE_LABELS = {"Clinician": "clinician", "Patient or caregiver": "patient"}


class ChatService:
    """The chat's link to answering: builds the Engine lazily and again after a failure, so the
    page serves before an index exists and recovers when a Chroma server comes back."""

    def __init__(self, settings: Settings, engine: Engine | None = None) -> None:
        self.settings = settings
        self._engine = engine
        self._lock = threading.Lock()

    def engine(self) -> Engine:
        with self._lock:
            if self._engine is None:
                self._engine = Engine(self.settings)
            return self._engine

    def status(self) -> str:
        where = self.settings.describe_store()
        try:
            engine = self.engine()
            articles = len(engine.store.manifest(refresh=True))
        except StoreMissingError:
            return (f"⚠ No index yet in {where}. Build it with `followup ingest corpus/` "
                    "(or `make run`), then ask your question.")
        except FollowupError as exc:
            return f"⚠ The store is not available: {exc}"
        mode = ("extractive (offline, sentences quoted from the articles)"
                if engine.mode == "extractive" else f"generative with {engine.mode}, checked")
        return f"Store: {where} · {articles} articles · answers: {mode}"

    def reset_after(self, exc: BaseException) -> None:
        """Forget the engine after a store failure, so the next question reconnects."""
        if isinstance(exc, StoreError):
            with self._lock:
                self._engine = None


def _history(turns: Sequence[dict[str, Any]]) -> list[Turn]:
    out: list[Turn] = []
    for t in turns:
        if t.get("answer"):
            out += [Turn("user", t["question"]),
                    Turn("assistant", t["answer"]["answer"],
                         tuple(t["answer"].get("cited_articles", ())))]
    return out


def _suggestion_updates(gr: Any, questions: Sequence[str]) -> list[Any]:
    return [gr.update(value=q, visible=True) if i < len(questions) else
            gr.update(value="", visible=False) for i, q in enumerate(
                list(questions)[:N_SUGGESTIONS] + [""] * (N_SUGGESTIONS - len(questions)))]


def build_app(settings: Settings, engine: Engine | None = None) -> Any:
    """The Gradio app, not launched."""
    import gradio as gr

    service = ChatService(settings, engine)
    hint = "Ask a question about the articles, or start from an example below."

    def export(turns: list[dict[str, Any]]) -> str:
        folder = Path(tempfile.mkdtemp(prefix="followup-export-"))
        path = folder / "conversation.md"
        path.write_text(conversation_markdown(turns), encoding="utf-8")
        return str(path)

    def respond(question: str, audience_label: str, turns: list[dict[str, Any]] | None
                ) -> Iterator[tuple[Any, ...]]:
        turns = list(turns or [])
        audience = AUDIENCE_LABELS.get(audience_label, "clinician")
        hidden = _suggestion_updates(gr, [])
        if not (question or "").strip():
            yield (render_conversation(turns, empty_hint=hint), turns, "", *hidden,
                   gr.update(visible=not turns))
            return
        pending = {"question": question, "partial": ""}
        yield (render_conversation(turns, pending), turns, "", *hidden, gr.update(visible=False))
        try:
            engine = service.engine()
            answer = None
            for event in engine.ask_stream(question, _history(turns), audience):
                if event["type"] == "token":
                    pending["partial"] += event["text"]
                    yield (render_conversation(turns, pending), turns, "", *hidden,
                           gr.update(visible=False))
                elif event["type"] == "answer":
                    answer = event["answer"]
                else:
                    raise event["error"]
            assert answer is not None
            data = answer.to_json()
            turns.append({"question": answer.question, "answer": data})
            suggestions = data["suggestions"]
        except InputError as exc:
            turns.append({"question": question, "error": str(exc)})
            suggestions = []
        except FollowupError as exc:
            service.reset_after(exc)
            turns.append({"question": question,
                          "error": f"The answer could not be produced: {exc}"})
            suggestions = []
        yield (render_conversation(turns), turns, "", *_suggestion_updates(gr, suggestions),
               gr.update(visible=False))

    def new_conversation() -> tuple[Any, ...]:
        return (render_conversation([], empty_hint=hint), [], "",
                *_suggestion_updates(gr, []), gr.update(visible=True))

    def ask_api(question: str, history_json: str, audience: str) -> dict[str, Any]:
        """Answer one question (with its conversation) from the articles; the JSON of
        `followup ask --json`."""
        try:
            return service.engine().ask(question, history_json or "[]",
                                        audience or "clinician").to_json()
        except FollowupError as exc:
            service.reset_after(exc)
            raise gr.Error(str(exc)) from exc

    with gr.Blocks(title="followup — answers from the articles",
                   analytics_enabled=False) as app:
        gr.Markdown("## followup\nAnswers to follow-up questions, **only from the evidence "
                    "articles**: every sentence is quoted from a passage and cites it.")
        status = gr.Markdown(service.status(), elem_id="status")
        with gr.Row():
            audience = gr.Radio(list(AUDIENCE_LABELS), value="Clinician",
                                label="Which best describes you?", elem_id="audience")
            new_btn = gr.Button("New conversation", elem_id="new-conversation", scale=0)
            export_btn = gr.DownloadButton("Export conversation (Markdown)",
                                           elem_id="export", scale=0)
        conversation = gr.HTML(render_conversation([], empty_hint=hint), elem_id="conversation",
                               css_template=CSS, js_on_load=CLICK_JS)
        turns_state = gr.State([])
        with gr.Row(visible=True, elem_id="examples") as examples_row:
            example_btns = [gr.Button(q, size="sm", elem_classes=["example"]) for q in EXAMPLES]
        with gr.Row(elem_id="suggestions"):
            suggestion_btns = [gr.Button("", visible=False, size="sm",
                                         elem_classes=["suggestion"])
                               for _ in range(N_SUGGESTIONS)]
        with gr.Row():
            box = gr.Textbox(placeholder="Ask a question or a follow-up…", show_label=False,
                             scale=8, elem_id="question", max_lines=4)
            send = gr.Button("Ask", variant="primary", scale=1, elem_id="send")

        outputs = [conversation, turns_state, box, *suggestion_btns, examples_row]
        for trigger in (send.click, box.submit):
            trigger(respond, [box, audience, turns_state], outputs, api_visibility="private"
                    ).then(lambda: service.status(), None, status, api_visibility="private")
        for btn in example_btns + suggestion_btns:
            btn.click(respond, [btn, audience, turns_state], outputs, api_visibility="private")
        new_btn.click(new_conversation, None, outputs, api_visibility="private")
        turns_state.change(export, turns_state, export_btn, api_visibility="private")
        app.load(lambda: service.status(), None, status, api_visibility="private")
        gr.api(ask_api, api_name="ask")
    app.queue(default_concurrency_limit=settings.chat_concurrency)
    return app


def launch_options(settings: Settings) -> dict[str, Any]:
    """``launch()`` keyword arguments from the settings (bind address, login, no sharing)."""
    options: dict[str, Any] = {
        "server_name": settings.chat_host,
        "server_port": settings.chat_port,
        "share": False,
        "show_error": True,
        "footer_links": ["api"],
    }
    if settings.chat_username and settings.chat_password:
        options["auth"] = (settings.chat_username, settings.chat_password.get_secret_value())
    return options


def main(argv: Sequence[str] | None = None) -> int:
    """``followup chat`` / ``python chat_app.py``: launch the web chat."""
    parser = argparse.ArgumentParser(prog="followup chat", description=__doc__)
    parser.add_argument("--host", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default 7860)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--store", metavar="DIR")
    group.add_argument("--chroma-url", metavar="URL")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(chat_host=args.host, chat_port=args.port,
                                 store_dir=args.store, chroma_url=args.chroma_url)
    except FollowupError as exc:
        print(f"followup chat: error: {exc}", file=sys.stderr)
        return exc.exit_code
    app = build_app(settings)
    print(f"followup chat on http://{settings.chat_host}:{settings.chat_port} "
          f"(store {settings.describe_store()})", flush=True)
    app.launch(**launch_options(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
