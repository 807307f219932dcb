"""Answering: one function from a question and its conversation to an ``Answer``.

``Engine.ask`` is what ``followup ask``, the chat and the evals call; ``Answer.to_json()`` is
the shared JSON. Steps: validate input → standalone question (follow-ups) → hybrid retrieval →
relevance gate (abstain) → extractive composition → references, disclaimer, suggestions.
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

from followup.answerability import Vocabulary, looks_foreign, subject_terms
from followup.answers import Answer
from followup.compose import compose_extractive, looks_like_instruction
from followup.contextualize import GENERIC, Interpretation, Turn, interpret
from followup.dialogue import entities_in, resolve
from followup.embedders import Embedder, get_embedder
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
    concepts,
    populations,
    with_synonyms,
)
from followup.text import term_set

AUDIENCES = ("clinician", "patient")
_GENERIC_TERMS = term_set(" ".join(GENERIC))
_SENTENCE_VECTORS_MAX = 20_000  # ~30 MB of 384-float vectors
_ARTICLE_TERMS_MAX = 2_000  # articles whose term sets are kept
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
# Terminal escape sequences (colour, cursor, window title) go whole, not just their ESC byte.
_ESCAPE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]")
_MAX_HISTORY_TURNS = 200
_MAX_ANSWER_CHARS = 50_000  # an assistant turn: an answer with its references and passages
FOCUS_LOOKBACK = 2  # assistant turns searched for the focus (one refused turn in between)
MAX_FOCUS_ARTICLES = 3
FOCUS_FIT_SHARE = 0.5  # of a turn's content words the cited articles use, for it to be about them
FOCUS_MAX_UNKNOWN = 2  # a turn with this many words that no article uses asks of elsewhere
# A turn read as a new question still stays with the focus when it speaks of "it", "the taper"…
_FOCUS_KEEPERS = re.compile(
    r"\b(?:it|its|they|them|this|that|these|those|the (?:taper|dose|level|combination|drug|"
    r"med|medication|symptoms|withdrawal)|both|either)\b", re.IGNORECASE)


# An ordinary English word the corpus never uses ("knee", "sweaty", "vaccines") weighs this
# much of its IDF in the gate's coverage: little evidence against a passage, but some.
ORDINARY_UNKNOWN_WEIGHT = 0.3


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


def _cited_titles(history: Sequence[Turn]) -> list[str]:
    """Article titles in the references of the last assistant turn."""
    for turn in reversed(history):
        if turn.role == "assistant":
            return re.findall(r"^\[\d+\] (.+?)(?: — | \(|$)", turn.content, flags=re.M)
    return []


class Engine:
    """Everything answering needs, built once (store, embedder, retriever) and reused."""

    def __init__(self, settings: Settings, *, store: ChunkStore | None = None,
                 embedder: Embedder | None = None, chat_model: Any = None) -> None:
        import torch

        torch.set_num_threads(settings.query_threads)
        self.settings = settings
        self.store = store or open_store(settings)
        self.embedder = embedder or get_embedder(settings)
        self.retriever = HybridRetriever(self.store, self.embedder, settings)
        self.retriever.lexical()  # load or build the BM25 index now, not on the first question
        self.chat_model = chat_model if chat_model is not None else get_chat_model(settings)
        self.mode = "extractive" if self.chat_model is None else (settings.llm or "llm")
        # sentence embeddings of answers composed so far (follow-ups re-read the same passages)
        self._sentence_vectors: dict[tuple[str, str, int], np.ndarray] = {}
        self._vocab: tuple[Any, Vocabulary] | None = None
        self._cache_lock = threading.Lock()
        self._article_term_cache: dict[tuple[str, str], frozenset[str]] = {}

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
        if audience not in AUDIENCES:
            raise InputError(f"audience must be one of {', '.join(AUDIENCES)}, not {audience!r}")
        text = clean_question(question, self.settings)
        turns = clean_history(parse_history(history) if isinstance(history, (str, type(None)))
                              else list(history), self.settings)
        notices: list[str] = []
        interp, llm_ok = self._interpret(text, turns, notices)
        expanded = with_synonyms(interp.standalone)
        if expanded != interp.standalone:
            interp = replace(interp, standalone=expanded)
        t1 = time.perf_counter()
        if interp.candidates:
            return self._clarify(text, interp, audience, notices, t0)
        search = self._with_classes(interp.standalone)  # what retrieval and the gate read
        passages = self.retriever.retrieve(search, self.settings.passages_k)
        t2 = time.perf_counter()
        answer = Answer(question=text, standalone_question=interp.standalone, sentences=[],
                        references=[], passages=passages, abstained=True,
                        disclaimer=disclaimer(), audience=audience,
                        is_followup=interp.is_followup, notices=notices, mode="extractive")
        answering = self.answering(passages, search)
        focus = self._focus_articles(text, turns, interp)
        if focus:
            answering = self._with_focus(answering, search, text, focus)
        answer.not_covered = self.vocabulary().not_covered(text)  # this turn's own words
        if answer.not_covered:
            answering = []
            notices.append(f"the articles do not mention {', '.join(answer.not_covered)}")
        elif looks_like_instruction(text):
            answering = []
            notices.append("the question reads as an instruction to the answering system: "
                           "only questions about the articles are answered")
        elif looks_foreign(text):
            answering = []
            notices.append("the question does not look like English, the articles' language: "
                           "ask it in English")
        streamed = False
        if answering and self.chat_model is not None and not llm_ok:
            notices.append("this answer was composed extractively: the language model did not "
                           "answer the follow-up's rewrite")
        elif answering and self.chat_model is not None:
            try:
                gen = compose_generative(self.chat_model, interp.standalone, answering[:5],
                                         self.settings.llm_timeout_s, on_token)
                streamed = on_token is not None
                answer.mode = self.mode
                answer.unsupported_removed = len(gen.removed)
                if gen.sentences:
                    answer.sentences, answer.references = gen.sentences, gen.references
                    answer.abstained = False
                if gen.removed:
                    notices.append(f"{len(gen.removed)} generated sentence(s) removed: not "
                                   "supported by the passages they cite")
                answering = []  # the LLM answered (or refused): no extractive fallback
            except LLMError as exc:
                notices.append(f"{exc}; this answer was composed extractively from the "
                               "passages instead")
        if answering:
            if len(self._sentence_vectors) > _SENTENCE_VECTORS_MAX:
                self._sentence_vectors.clear()
            asked_about = populations(text)  # this turn's own words, not a carried topic
            comp = compose_extractive(
                interp.standalone, answering, self.embedder, self.retriever.lexical().idf,
                audience=audience,
                question_vector=self.retriever.query_vector(interp.standalone),
                sentence_terms=lambda c: self.retriever.chunk_terms(c).sentences,
                vector_cache=self._sentence_vectors, emphasis=_emphasis(text, interp),
                about=[POPULATIONS[name] for name in sorted(asked_about)], intent_of=text)
            if comp.sentences and not asked_about - populations(
                    " ".join(x.text for x in comp.sentences)):
                answer.sentences, answer.references = comp.sentences, comp.references
                answer.abstained = False
            elif comp.sentences:
                notices.append("the passages found do not speak of "
                               f"{', '.join(sorted(asked_about))}: not answered from evidence "
                               "about other patients")
        t3 = time.perf_counter()
        if answer.abstained:
            answer.refusal = refusal()
            answer.closest_articles = _closest(passages)
            answer.suggestions = list(dict.fromkeys(a["title"] for a in answer.closest_articles))
        else:
            if audience == "patient":
                answer.patient_note = fixed_text("patient_note")
            answer.suggestions = self._suggestions(answer, turns)
        if on_token is not None and not streamed:
            for piece in iter_tokens(answer.body_markdown()):
                on_token(piece)
        answer.timings_ms = {"contextualize": (t1 - t0) * 1e3, "retrieve": (t2 - t1) * 1e3,
                             "compose": (t3 - t2) * 1e3,
                             "total": (time.perf_counter() - t0) * 1e3}
        return answer

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
                           self._kind_of)
                   or interpret(text, turns, _cited_titles(turns)))
        if offline.attached and not self._fits_focus(text, turns):
            offline = Interpretation(text, False, None, text)  # "What's the weather like?"
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
        return Interpretation(condensed, is_followup, offline.topic, offline.focus), True

    def answering(self, passages: Sequence[Passage], question: str = "") -> list[Passage]:
        """The passages relevant enough to answer from (none: the answer is the refusal)."""
        s = self.settings
        groups = concepts(question) if question else []
        idf = self.retriever.lexical().idf
        weights = self._term_weights(question, groups, idf)  # once per question, not per passage
        scored = [(p, self._coverage(p, weights, groups, idf)) for p in passages]
        names = self._entity_terms(question)
        known_words = self._all_known(weights)
        preferred = [p for p, cov in scored
                     if (cov >= s.prefer_min_coverage and p.dense >= s.prefer_min_dense)
                     or p.dense >= s.prefer_strong_dense]
        return preferred or [p for p, cov in scored
                             if (cov >= s.answer_min_coverage and p.dense >= s.answer_min_dense)
                             or p.dense >= s.answer_strong_dense
                             or (p.dense >= s.answer_close_dense
                                 and cov >= s.answer_close_coverage and known_words
                                 and self._about(p, weights, groups, names))
                             or (names and p.dense >= s.answer_entity_dense
                                 and cov >= s.answer_entity_coverage
                                 and self._speaks_of(p, names))]

    def _focus_articles(self, text: str, turns: Sequence[Turn], interp: Interpretation
                        ) -> list[str]:
        """The articles a follow-up stays with: those the latest answer cited (its metadata;
        else the titles of its rendered references), when every entity the turn names is one
        they discuss. A refused turn in between keeps the focus; "new patient" drops it."""
        own = entities_in(text, self.vocabulary().is_entity)
        if own and not interp.is_followup and not _FOCUS_KEEPERS.search(text):
            return []  # a question of its own (a turn naming nothing stays with the focus)
        vocab = self.vocabulary()
        if sum(not vocab.known(t) for t in subject_terms(term_set(text))) >= FOCUS_MAX_UNKNOWN:
            return []  # "How is Graves disease treated with radioactive iodine?": elsewhere
        ids = self._cited_before(turns)
        have = self._focus_terms(ids)
        lexicon = self.retriever.lexical().lexicon
        for name in own:
            named = term_set(" ".join([with_synonyms(name), *lexicon.classes(name)]))
            if not named & have:
                return []  # a new entity the focus does not discuss: a change of topic
        return ids

    def _cited_before(self, turns: Sequence[Turn]) -> list[str]:
        """The articles the latest answer cited (a refused turn in between skipped)."""
        manifest = self.store.manifest()
        for turn in [t for t in turns if t.role == "assistant"][-FOCUS_LOOKBACK:][::-1]:
            ids = [a for a in turn.cited if a in manifest] or self._ids_of_titles(turn.content)
            if ids:
                return ids[:MAX_FOCUS_ARTICLES]
        return []

    def _focus_terms(self, ids: Sequence[str]) -> set[str]:
        have: set[str] = set()
        for article_id in ids:
            have |= self._article_terms(article_id)
        return have

    def _article_terms(self, article_id: str) -> frozenset[str]:
        """Every term of one article (all its chunks), cached per store signature."""
        key = (self.store.signature(), article_id)
        with self._cache_lock:
            cached = self._article_term_cache.get(key)
        if cached is None:
            have: set[str] = set()
            for chunk in self.retriever.article_chunks(article_id):
                ct = self.retriever.chunk_terms(chunk)
                have |= ct.body | ct.fields
            cached = frozenset(have)
            with self._cache_lock:
                if len(self._article_term_cache) >= _ARTICLE_TERMS_MAX:
                    self._article_term_cache.clear()
                self._article_term_cache[key] = cached
        return cached

    def _about(self, p: Passage, weights: dict[str, float], groups: list[list[frozenset[str]]],
               names: list[list[frozenset[str]]]) -> bool:
        """Whether the passage's article is about what is asked: its article names one of
        the question's entities, or (a question without entities) its title or section names
        one of the question's subject words."""
        if names:
            have = self._article_terms(p.chunk.article_id)
            return any(a <= have for alts in names for a in alts)
        return self._titled(p, weights, groups)

    def _fits_focus(self, text: str, turns: Sequence[Turn]) -> bool:
        """Whether a turn that names nothing asks about the articles just cited: most of its
        content words are theirs ("how quickly can the dependence develop?"), unlike "How is
        multiple sclerosis diagnosed?" after gabapentin."""
        words = subject_terms(term_set(text)) - _GENERIC_TERMS
        if not words:
            return True
        have = self._focus_terms(self._cited_before(turns))
        return len(words & have) >= FOCUS_FIT_SHARE * len(words)

    def _ids_of_titles(self, rendered: str) -> list[str]:
        by_title = {e.title: e.article_id for e in self.store.manifest().values()}
        return [by_title[t] for t in dict.fromkeys(_cited_titles([Turn("assistant", rendered)]))
                if t in by_title]

    def _with_focus(self, answering: list[Passage], standalone: str, text: str,
                    focus: list[str]) -> list[Passage]:
        """The gate's passages plus the focus articles' passages that speak to the follow-up:
        the conversation has named the subject, so the turn's own words need not."""
        s = self.settings
        local = self.retriever.retrieve(standalone, s.passages_k, within=focus)
        groups = concepts(standalone)
        idf = self.retriever.lexical().idf
        weights = self._term_weights(text, [], idf)  # the turn's own subject words
        ok = [p for p in local
              if p.dense >= s.focus_min_dense
              or (p.dense >= s.answer_min_dense
                  and self._coverage(p, weights, groups, idf) >= s.focus_min_coverage)]
        seen = {p.chunk.id for p in answering}
        merged = answering + [p for p in ok if p.chunk.id not in seen]
        return sorted(merged, key=lambda p: p.score, reverse=True)

    def _all_known(self, weights: dict[str, float]) -> bool:
        """Whether every subject word of the question is one the articles use (or an ordinary
        English word): "migraine prophylaxis" names what no article speaks of."""
        vocab = self.vocabulary()
        lexicon = self.retriever.lexical().lexicon
        return all(vocab.known(t) or vocab.ordinary_unknown(t) or lexicon.classes(t)
                   for t in weights)

    def _titled(self, p: Passage, weights: dict[str, float],
                groups: list[list[frozenset[str]]]) -> bool:
        """Whether the passage's article title or section names a subject word of the question
        (the article is about what is asked, not a passing mention of one word of it)."""
        fields = self.retriever.chunk_terms(p.chunk).fields
        return bool(fields & weights.keys()) or any(n <= fields for g in groups for n in g)

    def _entity_terms(self, question: str) -> list[list[frozenset[str]]]:
        """The question's entities, each as the term sets that name it (itself, its class in
        the synonyms table or the corpus's lexicon)."""
        out = []
        lexicon = self.retriever.lexical().lexicon
        for name in entities_in(question, self.vocabulary().is_entity):
            alts = [term_set(name)]
            if name.casefold() in CLASSES:
                alts.append(term_set(CLASSES[name.casefold()]))
            alts += [term_set(c) for c in lexicon.classes(name)]
            out.append([a for a in alts if a])
        return [alts for alts in out if alts]

    def _kind_of(self, name: str) -> list[str]:
        """The classes of a drug: the synonyms table's and the corpus's lexicon's."""
        key = name.casefold()
        return ([CLASSES[key]] if key in CLASSES else []) + self.retriever.lexical(
            ).lexicon.classes(name)

    def _with_classes(self, question: str) -> str:
        """The question with a drug's class from the corpus's lexicon after its first mention
        ("cipro (ciprofloxacin) (a fluoroquinolone)"), unless the class is named already."""
        lexicon = self.retriever.lexical().lexicon
        out = question
        for name in entities_in(question, self.vocabulary().is_entity):
            classes = lexicon.classes(name)
            if not classes or name.casefold() in CLASSES:
                continue
            if any(term_set(c) <= term_set(out) for c in classes):
                continue
            klass = classes[0]
            article = "an" if klass[:1].casefold() in "aeiou" else "a"
            m = re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])(?:\s*\([^)]*\))?", out)
            if m:
                out = f"{out[:m.end()]} ({article} {klass}){out[m.end():]}"
        return out

    def _speaks_of(self, p: Passage, names: list[list[frozenset[str]]], every: bool = True
                   ) -> bool:
        """Whether the passage (text or title/section) names every entity of the question
        (or, ``every=False``, one of them)."""
        ct = self.retriever.chunk_terms(p.chunk)
        have = ct.body | ct.fields
        found = (any(a <= have for a in alts) for alts in names)
        return all(found) if every else any(found)

    def vocabulary(self) -> Vocabulary:
        """The corpus's words (from the current lexical index), built once per index."""
        index = self.retriever.lexical()
        if self._vocab is None or self._vocab[0] is not index:
            names = [n for g in GROUPS for n in g] + list(CLASSES) + list(CLASSES.values())
            names += index.lexicon.names()
            names += [f"{n}s" for n in names]
            self._vocab = (index, Vocabulary(index.df, names))
        return self._vocab[1]

    def _term_weights(self, question: str, groups: list[list[frozenset[str]]],
                      idf: Callable[[str], float]) -> dict[str, float]:
        """The IDF weight of each subject term of the question outside its named concepts;
        an ordinary English word the corpus never uses weighs ORDINARY_UNKNOWN_WEIGHT of it."""
        grouped = {t for names in groups for name in names for t in name}
        vocab = self.vocabulary()
        return {t: idf(t) * (ORDINARY_UNKNOWN_WEIGHT if vocab.ordinary_unknown(t) else 1.0)
                for t in subject_terms(term_set(question)) if t not in grouped}

    def _coverage(self, p: Passage, weights: dict[str, float],
                  groups: list[list[frozenset[str]]], idf: Callable[[str], float]) -> float:
        """The passage's share of the question's IDF-weighted terms, where a thing named twice
        ("ibuprofen (an NSAID)") counts once and is covered by either name."""
        ct = self.retriever.chunk_terms(p.chunk)
        have = ct.body | ct.fields
        total = sum(weights.values())
        covered = sum(w for t, w in weights.items() if t in have)
        for names in groups:
            weight = max(sum(idf(t) for t in name) for name in names)
            total += weight
            covered += weight if any(name <= have for name in names) else 0.0
        return covered / total if total else 0.0

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
        cache: dict[str, list[str]] = self.__dict__.setdefault("_section_cache", {})
        if article_id not in cache:
            chunks = self.store.article_chunks(article_id)
            cache[article_id] = list(dict.fromkeys(c.section for c in chunks))
        return cache[article_id]


def _replace_it(question: str, name: str) -> str:
    """The question with its first "it" naming ``name`` (a clarification's suggestion)."""
    return re.sub(r"\b(?:it|this one|that one)\b", name, question, count=1, flags=re.IGNORECASE)


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
