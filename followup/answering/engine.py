"""The engine: one function from a question and its conversation to an ``Answer``.

``Engine.ask`` is what ``followup ask``, the chat and the evals call; ``Answer.to_json()`` is
the shared JSON. Its steps, each a method here and a module of ``followup.answering``: read the
input → the standalone question (dialogue state) → a clarifying question when "it" is truly
ambiguous → analysis of the turn → hybrid retrieval → the gate (answerability, with the
conversation's focus) → the sentences that answer (selection, or a checked LLM answer) →
references, disclaimer, suggestions.
"""

from __future__ import annotations

import json
import queue
import re
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from followup.answering.analysis import Analysis, analyse
from followup.answering.answerability import Gate, Vocabulary
from followup.answering.bands import asked_figures
from followup.answering.contextualize import Interpretation, Turn, interpret
from followup.answering.dialogue import entities_in, resolve
from followup.answering.focus import Focus, cited_titles
from followup.answering.selection import compose_extractive
from followup.answers import Answer
from followup.caches import BoundedCache
from followup.embedders import Embedder, get_embedder, uses_torch
from followup.errors import InputError
from followup.generate import compose_generative
from followup.llm import LLMError, complete, get_chat_model, iter_tokens
from followup.passages import Passage
from followup.prompts import disclaimer, fixed_text, load_prompt, refusal
from followup.retriever.hybrid import HybridRetriever
from followup.settings import Settings
from followup.store import ChunkStore, open_store
from followup.synonyms import (
    CLASSES,
    GROUPS,
    POPULATIONS,
    populations,
    with_synonyms,
    without_modifiers,
)
from followup.text import term_set

AUDIENCES = ("clinician", "patient")
_SENTENCE_VECTORS_MAX = 20_000  # ~30 MB of 384-float vectors
_SECTIONS_MAX = 2_000  # articles whose section lists are kept
MAX_SUBJECT_WORDS = 4  # a focus this short names the subject in "not covered" refusals
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
# Terminal escape sequences (colour, cursor, window title) go whole, not just their ESC byte.
_ESCAPE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]")
_MAX_HISTORY_TURNS = 200
_MAX_ANSWER_CHARS = 50_000  # an assistant turn: an answer with its references and passages
def _plain(text: str) -> str:
    """Text without escape sequences or control characters (tabs and newlines kept)."""
    return unicodedata.normalize("NFC", _CONTROL.sub(" ", _ESCAPE.sub("", text)))


def clean_question(question: object, settings: Settings) -> str:
    """The question with control characters removed and space folded.

    Raises:
        InputError: not text, empty, or longer than ``settings.max_question_chars``.
    """
    if not isinstance(question, str):
        raise InputError("the question must be text")
    text = " ".join(_plain(question).split())
    if not text:
        raise InputError("the question is empty; type a question about the articles")
    if len(text) > settings.max_question_chars:
        raise InputError(
            f"the question is {len(text):,} characters long; the limit is "
            f"{settings.max_question_chars:,} (FOLLOWUP_MAX_QUESTION_CHARS). Ask one question "
            "at a time"
        )
    return text


def parse_history(data: str | list[Any] | None) -> list[Turn]:
    """A conversation from JSON text or a list: ``[{"role": "user"|"assistant", "content"}]``.

    Raises:
        InputError: not valid JSON, not a list of turns, or a turn with an unknown role.
    """
    if data is None or data == "":
        return []
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise InputError(f"the history is not valid JSON (line {exc.lineno}: {exc.msg}); "
                             'it must be a list of {"role", "content"} objects') from exc
    if not isinstance(data, list):
        raise InputError('the history must be a JSON list of {"role", "content"} objects')
    turns: list[Turn] = []
    for i, item in enumerate(data):
        if not isinstance(item, dict) or set(item) - {"role", "content", "metadata"}:
            raise InputError(f'history turn {i} must be an object with "role" and "content"')
        role, content = item.get("role"), item.get("content")
        if role not in ("user", "assistant"):
            raise InputError(f"history turn {i} has role {role!r}; use \"user\" or \"assistant\"")
        if not isinstance(content, str):
            raise InputError(f"history turn {i} has no text content")
        turns.append(Turn(role, content, _cited_ids(item.get("metadata"))))
    return turns


def _cited_ids(metadata: object) -> tuple[str, ...]:
    """The ``cited_articles`` of a turn's metadata; malformed metadata reads as none (the
    rendered answer's references are read instead)."""
    if not isinstance(metadata, dict):
        return ()
    ids = metadata.get("cited_articles")
    if not isinstance(ids, list):
        return ()
    return tuple(dict.fromkeys(x for x in ids if isinstance(x, str) and 0 < len(x) <= 200))[:8]


def clean_history(turns: Sequence[Turn], settings: Settings) -> list[Turn]:
    """The turns with escape sequences and control characters removed, within limits: a user
    turn is held to the question's limit, so a long text cannot come in as history.

    Raises:
        InputError: too many turns, or a turn over its limit.
    """
    if len(turns) > _MAX_HISTORY_TURNS:
        raise InputError(f"the history has {len(turns)} turns; the limit is "
                         f"{_MAX_HISTORY_TURNS}. Start a new conversation")
    out: list[Turn] = []
    for i, turn in enumerate(turns):
        content = _plain(turn.content)
        limit = settings.max_question_chars if turn.role == "user" else _MAX_ANSWER_CHARS
        if len(content.strip()) > limit:
            raise InputError(f"history turn {i} ({turn.role}) is {len(content.strip()):,} "
                             f"characters long; the limit is {limit:,}"
                             + (" (FOLLOWUP_MAX_QUESTION_CHARS)" if turn.role == "user" else ""))
        out.append(Turn(turn.role, content, turn.cited))
    return out


LEAD_ARTICLE_PASSAGES = 12  # the answering article's passages the composer may read
# a follow-up's own words need not be its article's: this many more of the lead article's
# sentences are embedded whatever their words (a first question's words are the article's)
FOLLOWUP_LEAD_SENTENCES = 12


class Engine:
    """Everything answering needs, built once (store, embedder, retriever) and reused. Thread-safe:
    the chat's workers share one engine; its caches are bounded, locked and keyed by the store's
    signature or by article versions."""

    def __init__(self, settings: Settings, *, store: ChunkStore | None = None,
                 embedder: Embedder | None = None, chat_model: Any = None) -> None:
        if uses_torch(settings):  # onnxruntime sessions take their threads from the settings
            import torch

            torch.set_num_threads(settings.query_threads)
        self.settings = settings
        self.store = store or open_store(settings)
        self.embedder = embedder or get_embedder(settings)
        self.retriever = HybridRetriever(self.store, self.embedder, settings)
        self.retriever.lexical()  # load or build the BM25 index now, not on the first question
        self.chat_model = chat_model if chat_model is not None else get_chat_model(settings)
        self.mode = "extractive" if self.chat_model is None else (settings.llm or "llm")
        self._lock = threading.Lock()
        # sentence embeddings of answers composed so far (follow-ups re-read the same passages),
        # by (article id, article hash, sentence start): one article version's sentence
        self._sentence_vectors: dict[tuple[str, str, int], np.ndarray] = {}
        self._sections: BoundedCache[tuple[str, str], list[str]] = BoundedCache(_SECTIONS_MAX)
        self._vocab: tuple[Any, Vocabulary] | None = None
        self._refreshed = time.monotonic()
        self.focus = Focus(self.store, self.retriever, self.vocabulary)
        self.gate = Gate(settings, self.retriever, self.vocabulary, self.focus.article_terms)

    def ask_stream(self, question: str, history: Sequence[Turn] | str | None = None,
                   audience: str = "clinician") -> Iterator[dict[str, Any]]:
        """Events while answering: ``{"type": "token", "text"}``… then
        ``{"type": "answer", "answer": Answer}`` (or ``{"type": "error", "error"}``)."""
        events: queue.Queue[dict[str, Any]] = queue.Queue()

        def run() -> None:
            try:
                answer = self.ask(question, history, audience,
                                  on_token=lambda t: events.put({"type": "token", "text": t}))
                events.put({"type": "answer", "answer": answer})
            except Exception as exc:  # handed to the consumer, who decides
                events.put({"type": "error", "error": exc})

        threading.Thread(target=run, daemon=True).start()
        while True:
            event = events.get()
            yield event
            if event["type"] != "token":
                return

    def ask(self, question: str, history: Sequence[Turn] | str | None = None,
            audience: str = "clinician", on_token: Callable[[str], None] | None = None
            ) -> Answer:
        """Answer ``question`` in the context of ``history``, only from the store's articles.

        Args:
            on_token: called with pieces of the answer text as they are produced (an LLM's
                tokens; in extractive mode the composed text, word by word).

        Raises:
            InputError: malformed question, history or audience.
            StoreError: the store cannot be read.
        """
        t0 = time.perf_counter()
        text, turns = self._read(question, history, audience)
        self._refresh_store()
        notices: list[str] = []
        interp, llm_ok = self._interpret(text, turns, notices)
        t1 = time.perf_counter()
        if interp.candidates:
            return self._clarify(text, interp, audience, notices, t0)
        analysis = analyse(text, self.vocabulary(), self.retriever.lexical().lexicon)
        search = self.gate.with_classes(interp.standalone)  # what retrieval and the gate read
        passages = self.retriever.retrieve(search, self.settings.passages_k)
        t2 = time.perf_counter()
        answer = Answer(question=text, standalone_question=interp.standalone, sentences=[],
                        references=[], passages=passages, abstained=True,
                        disclaimer=disclaimer(), audience=audience,
                        is_followup=interp.is_followup, notices=notices, mode="extractive",
                        not_covered=list(analysis.not_covered))
        answering = self._answerable(passages, search, text, turns, interp, analysis, notices)
        streamed = self._compose(answer, answering, interp, text, llm_ok, analysis, on_token)
        answer.passages = _with_quoted(passages, answering, answer)
        t3 = time.perf_counter()
        self._finish(answer, turns, on_token, streamed)
        answer.timings_ms = {"contextualize": (t1 - t0) * 1e3, "retrieve": (t2 - t1) * 1e3,
                             "compose": (t3 - t2) * 1e3,
                             "total": (time.perf_counter() - t0) * 1e3}
        return answer

    def _refresh_store(self) -> None:
        """Re-read the store's manifest every ``store_refresh_s``: an ingest by another process
        (into a Chroma server too) is answered from without a restart; the lexical index follows
        the new signature (loaded from where the ingest saved it)."""
        now = time.monotonic()
        with self._lock:
            due = now - self._refreshed >= self.settings.store_refresh_s
            if due:
                self._refreshed = now
        if due:
            self.store.manifest(refresh=True)

    def _read(self, question: str, history: Sequence[Turn] | str | None, audience: str
              ) -> tuple[str, list[Turn]]:
        """The cleaned question and history (InputError when malformed or over a limit)."""
        if audience not in AUDIENCES:
            raise InputError(f"audience must be one of {', '.join(AUDIENCES)}, not {audience!r}")
        text = clean_question(question, self.settings)
        turns = clean_history(parse_history(history) if isinstance(history, (str, type(None)))
                              else list(history), self.settings)
        return text, turns

    def _answerable(self, passages: list[Passage], search: str, text: str,
                    turns: Sequence[Turn], interp: Interpretation, analysis: Analysis,
                    notices: list[str]) -> list[Passage]:
        """The passages that may answer: the gate's, with the focus articles' for a follow-up
        that stays with them; none when the turn itself cannot be answered (analysis)."""
        why = analysis.refusal_notice()
        if why:
            notices.append(why)
            return []
        answering = self.gate.passages(passages, search)
        focus = self.focus.articles(text, turns, interp.is_followup, analysis.entities)
        if focus:
            answering = self.gate.with_focus(answering, search, text, focus)
        answering = self.gate.on_subject(search, self.gate.whole_articles(answering, passages))
        apart = self.gate.unpaired(text, answering)
        if apart:  # "can I drink beer while on metoprolol?": no article names both
            notices.append(f"the articles do not discuss {' with '.join(apart)}")
            return []
        if not answering or not interp.is_followup:
            return answering
        lead = answering[0].chunk.article_id  # a follow-up's answer may stand anywhere in it
        seen = {p.chunk.id for p in answering}
        more = self.retriever.retrieve(search, LEAD_ARTICLE_PASSAGES, within=[lead])
        return answering + [p for p in more if p.chunk.id not in seen]

    def _compose(self, answer: Answer, answering: list[Passage], interp: Interpretation,
                 text: str, llm_ok: bool, analysis: Analysis,
                 on_token: Callable[[str], None] | None) -> bool:
        """Fill the answer's sentences from ``answering`` (an LLM's checked answer when one is
        configured, else extractive). True when the LLM streamed its tokens already."""
        if not answering:
            return False
        if self.chat_model is not None and not llm_ok:
            answer.notices.append("this answer was composed extractively: the language model "
                                  "did not answer the follow-up's rewrite")
        elif self.chat_model is not None:
            try:
                gen = compose_generative(self.chat_model, interp.standalone, answering[:5],
                                         self.settings.llm_timeout_s, on_token)
            except LLMError as exc:
                answer.notices.append(f"{exc}; this answer was composed extractively from "
                                      "the passages instead")
            else:
                answer.mode = self.mode
                answer.unsupported_removed = len(gen.removed)
                if gen.sentences:
                    answer.sentences, answer.references = gen.sentences, gen.references
                    answer.abstained = False
                if gen.removed:
                    answer.notices.append(f"{len(gen.removed)} generated sentence(s) removed: "
                                          "not supported by the passages they cite")
                return on_token is not None  # the LLM answered (or refused): no fallback
        self._select(answer, answering, interp, text, analysis)
        return False

    def _select(self, answer: Answer, answering: list[Passage], interp: Interpretation,
                text: str, analysis: Analysis) -> None:
        """The extractive answer: the sentences that answer, verbatim and cited; a question
        about a group of patients is answered only from sentences about that group."""
        with self._lock:
            if len(self._sentence_vectors) > _SENTENCE_VECTORS_MAX:
                self._sentence_vectors.clear()
        asked_about = analysis.modifiers  # this turn's own words, not a carried topic
        comp = compose_extractive(
            interp.standalone, answering, self.embedder, self.retriever.lexical().idf,
            audience=answer.audience,
            question_vector=self.retriever.query_vector(interp.standalone),
            sentence_terms=lambda c: self.retriever.chunk_terms(c).sentences,
            vector_cache=self._sentence_vectors, emphasis=_emphasis(text, interp),
            about=[POPULATIONS[name] for name in sorted(asked_about)],
            intents=analysis.intents,
            turn_vector=(self.retriever.query_vector(text) if interp.is_followup
                         and text != interp.standalone else None),
            lead_sentences=FOLLOWUP_LEAD_SENTENCES if interp.is_followup else 0,
            subjects=self._subjects(interp.standalone),
            figures=asked_figures(text))  # the turn's own figures, not carried ones
        missing = asked_about - populations(" ".join(x.text for x in comp.sentences))
        if comp.sentences and not missing:
            answer.sentences, answer.references = comp.sentences, comp.references
            answer.abstained = False
        elif comp.sentences:
            groups = ", ".join(sorted(missing))
            answer.notices.append(f"the passages found do not speak of {groups}: not answered "
                                  "from evidence about other patients")
            subject = interp.focus if len(interp.focus.split()) <= MAX_SUBJECT_WORDS else ""
            answer.uncovered = load_prompt("not_covered").render(
                what=f"{subject} for {groups}" if subject else f"this question for {groups}")
            general = without_modifiers(interp.standalone)
            if general and general != interp.standalone:
                answer.suggestions = [general]

    def _finish(self, answer: Answer, turns: Sequence[Turn],
                on_token: Callable[[str], None] | None, streamed: bool) -> None:
        """The refusal or the patient note, suggestions, and the text streamed when no LLM
        streamed it."""
        if answer.abstained:
            answer.refusal = refusal()
            if answer.not_covered and not answer.uncovered:
                answer.uncovered = load_prompt("not_covered").render(
                    what=", ".join(answer.not_covered))
            answer.closest_articles = _closest(answer.passages)
            answer.suggestions = list(dict.fromkeys(
                [*answer.suggestions, *(a["title"] for a in answer.closest_articles)]))
        else:
            if answer.audience == "patient":
                answer.patient_note = fixed_text("patient_note")
            answer.suggestions = self._suggestions(answer, turns)
        if on_token is not None and not streamed:
            for piece in iter_tokens(answer.body_markdown()):
                on_token(piece)

    def _clarify(self, text: str, interp: Interpretation, audience: str, notices: list[str],
                 t0: float) -> Answer:
        """One short question back naming the candidates: no passages, no citations."""
        a, b = interp.candidates[:2]
        answer = Answer(question=text, standalone_question=interp.standalone, sentences=[],
                        references=[], passages=[], abstained=False, disclaimer=disclaimer(),
                        audience=audience, is_followup=True, notices=notices,
                        mode="extractive",
                        clarification=load_prompt("clarification").render(a=a, b=b).strip())
        answer.suggestions = [_replace_it(text, a), _replace_it(text, b)]
        answer.timings_ms = {"total": (time.perf_counter() - t0) * 1e3}
        return answer

    def _interpret(self, text: str, turns: Sequence[Turn], notices: list[str]
                   ) -> tuple[Interpretation, bool]:
        """Offline contextualizer; with an LLM, its condensed question when it checks out.
        The flag is False when the LLM failed or timed out here: the answer then does not wait
        on it a second time."""
        offline = (resolve(text, turns, self.vocabulary().is_entity, _was_refused,
                           self.gate.kind_of)
                   or interpret(text, turns, cited_titles(turns)))
        if offline.attached and not self.focus.fits(text, turns):
            offline = Interpretation(text, False, None, text)  # "What's the weather like?"
        offline = _expanded(offline)
        if self.chat_model is None or not any(t.role == "user" for t in turns):
            return offline, True
        history = "\n".join(f"{t.role}: {' '.join(t.content.split())[:600]}"
                             for t in turns[-6:])
        prompt = load_prompt("condense").render(history=history, question=text)
        try:
            out = complete(self.chat_model, prompt, self.settings.llm_timeout_s)
        except LLMError as exc:
            notices.append(f"{exc}; the follow-up was interpreted offline")
            return offline, False
        condensed = " ".join(out.strip().splitlines()[0].split()) if out.strip() else ""
        known = term_set(text) | term_set(" ".join(t.content for t in turns))
        invented = term_set(condensed) - known
        if (not condensed.endswith("?") or len(condensed) > 300
                or len(invented) > max(2, 0.3 * len(term_set(condensed)))):
            notices.append("the language model's reading of the follow-up did not check out; "
                           "it was interpreted offline")
            return offline, True
        is_followup = condensed.casefold() != text.casefold()
        return _expanded(Interpretation(condensed, is_followup, offline.topic, offline.focus)), True

    def _subjects(self, question: str) -> list[list[frozenset[str]]]:
        """The question's entities, each named by itself or one of its classes (term sets)."""
        lexicon = self.retriever.lexical().lexicon
        out = []
        for entity in entities_in(question, self.vocabulary().is_entity):
            names = [entity, *(lexicon.classes(entity) if lexicon is not None else [])]
            out.append([ts for ts in map(term_set, names) if ts])
        return [names for names in out if names]

    def vocabulary(self) -> Vocabulary:
        """The corpus's words (from the current lexical index), built once per index."""
        index = self.retriever.lexical()
        if self._vocab is None or self._vocab[0] is not index:
            names = [n for g in GROUPS for n in g] + list(CLASSES) + list(CLASSES.values())
            names += index.lexicon.names()
            names += [f"{n}s" for n in names]
            self._vocab = (index, Vocabulary(index.df, names))
        return self._vocab[1]

    def _suggestions(self, answer: Answer, turns: Sequence[Turn]) -> list[str]:
        """2-4 questions the cited articles answer, from sections the conversation has not used."""
        asked = [term_set(t.content) for t in turns if t.role == "user"]
        asked.append(term_set(answer.question))
        used = {(s.article_id, s.section) for s in answer.sentences}
        cited = list(dict.fromkeys(s.article_id for s in answer.sentences))
        out: list[str] = []
        for article_id in cited:
            for heading in self._sections_of(article_id):
                if (article_id, heading) in used or heading in ("Answer", "Overview"):
                    continue
                h_terms = term_set(heading)
                if h_terms and any(h_terms <= q for q in asked):
                    continue
                q = heading if heading.rstrip().endswith("?") else f"What about {_phrase(heading)}?"
                if q not in out:
                    out.append(q)
                if len(out) >= 4:
                    return out
        return out

    def _sections_of(self, article_id: str) -> list[str]:
        return self._sections.get((self.store.signature(), article_id), lambda: list(
            dict.fromkeys(c.section for c in self.retriever.article_chunks(article_id))))


def _expanded(interp: Interpretation) -> Interpretation:
    """The standalone question with the synonyms table's names added ("paracetamol
    (acetaminophen)"), so the clinician sees what was searched."""
    expanded = with_synonyms(interp.standalone)
    return interp if expanded == interp.standalone else replace(interp, standalone=expanded)


def _replace_it(question: str, name: str) -> str:
    """The question with its first "it" naming ``name`` (a clarification's suggestion)."""
    return re.sub(r"\b(?:it|this one|that one)\b", name, question, count=1, flags=re.IGNORECASE)


def _with_quoted(retrieved: list[Passage], answering: Sequence[Passage], answer: Answer
                 ) -> list[Passage]:
    """The retrieved passages and, after them, every other passage an answer sentence quotes
    (a follow-up's lead article is read beyond the top k): each citation opens its passage."""
    have = {p.chunk.id for p in retrieved}
    quoted = {s.chunk_id for s in answer.sentences} - have
    extra = {p.chunk.id: p for p in answering if p.chunk.id in quoted}
    return [*retrieved, *extra.values()]


def _was_refused(turn: Turn) -> bool:
    """Whether an assistant turn is the refusal (it cites nothing and opens with its wording)."""
    return not turn.cited and turn.content.lstrip().startswith(refusal())


def _phrase(heading: str) -> str:
    """'Recommended Taper Rates' -> 'recommended taper rates' (acronyms and names kept)."""
    words = heading.split()
    return " ".join(w.lower() if w[:1].isupper() and w[1:].islower() else w for w in words)


def _closest(passages: Sequence[Passage]) -> list[dict[str, str]]:
    seen: dict[str, dict[str, str]] = {}
    for p in passages:
        if p.chunk.article_id not in seen:
            seen[p.chunk.article_id] = {"article_id": p.chunk.article_id, "title": p.chunk.title}
    return list(seen.values())[:3]


def _emphasis(question: str, interp: Interpretation) -> frozenset[str]:
    """What the clinician asks about, beyond the subject: a first question's words outside its
    focus ("treatment" in "What is the treatment for serotonin syndrome?"); a follow-up's own
    words, not carried from the topic ("seizures" in "What about withdrawal seizures?")."""
    if not interp.is_followup:
        return term_set(question) - term_set(interp.focus)
    return term_set(question) - term_set(interp.topic or "")
