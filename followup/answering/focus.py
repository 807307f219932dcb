"""The conversation's focus: the articles its latest answer cited (the history turn's metadata
``cited_articles``; the titles of its rendered references when the metadata is missing or
malformed), and whether a follow-up stays with them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from followup.answering.answerability import Vocabulary, subject_terms
from followup.answering.contextualize import GENERIC, Turn
from followup.answering.dialogue import entities_in
from followup.caches import BoundedCache
from followup.retriever.hybrid import HybridRetriever
from followup.store import ChunkStore
from followup.synonyms import with_synonyms
from followup.text import term_set, zipf

FOCUS_LOOKBACK = 2  # assistant turns searched for the focus (one refused turn in between)
MAX_FOCUS_ARTICLES = 3
FOCUS_FIT_SHARE = 0.5  # of a turn's content words the cited articles use, for it to be about them
FOCUS_FIT_COMMON_ZIPF = 4.8  # words this common in English ("next", "back") are not the subject
FOCUS_FIT_FREE_WORDS = 1  # a turn with this few content words is about the focus
FOCUS_MAX_UNKNOWN = 2  # a turn with this many words that no article uses asks of elsewhere
_ARTICLE_TERMS_MAX = 2_000  # articles whose term sets are kept
# The frame of clinical work, not a subject: "what should nursing look for on exam?", "what
# should he carry on discharge?", "any limitations of the study?" stay with the focus.
_FRAME_WORDS = ("exam examination nursing nurse nurses discharge admission admit ward icu home "
                "meantime meanwhile study trial limitations results findings evidence data paper "
                "workup plan team family clinic visit pharmacy carry bring look watch tell warn "
                "counsel advise help helps else")
_GENERIC_TERMS = term_set(" ".join(GENERIC)) | term_set(_FRAME_WORDS)
# A turn read as a new question still stays with the focus when it speaks of "it", "the taper"…
_KEEPERS = re.compile(
    r"\b(?:it|its|they|them|this|that|these|those|the (?:taper|dose|level|combination|drug|"
    r"med|medication|symptoms|withdrawal)|both|either)\b", re.IGNORECASE)


def cited_titles(history: Sequence[Turn]) -> list[str]:
    """Article titles in the references of the last assistant turn."""
    for turn in reversed(history):
        if turn.role == "assistant":
            return re.findall(r"^\[\d+\] (.+?)(?: — | \(|$)", turn.content, flags=re.M)
    return []


class Focus:
    """What the conversation is about, read from the store's articles (thread-safe)."""

    def __init__(self, store: ChunkStore, retriever: HybridRetriever,
                 vocabulary: Callable[[], Vocabulary]) -> None:
        self.store = store
        self.retriever = retriever
        self.vocabulary = vocabulary
        self._terms: BoundedCache[tuple[str, str], frozenset[str]] = BoundedCache(
            _ARTICLE_TERMS_MAX)

    def articles(self, text: str, turns: Sequence[Turn], is_followup: bool,
                 own: Sequence[str] | None = None) -> list[str]:
        """The articles a follow-up stays with: those the latest answer cited, when every
        entity the turn names (``own``, from its analysis) is one they discuss. A refused turn
        in between keeps the focus."""
        vocab = self.vocabulary()
        if own is None:
            own = entities_in(text, vocab.is_entity)
        if own and not is_followup and not _KEEPERS.search(text):
            return []  # a question of its own (a turn naming nothing stays with the focus)
        if sum(not vocab.known(t) for t in subject_terms(term_set(text))) >= FOCUS_MAX_UNKNOWN:
            return []  # "How is Graves disease treated with radioactive iodine?": elsewhere
        ids = self.cited_before(turns)
        have = self.terms_of(ids)
        lexicon = self.retriever.lexical().lexicon
        for name in own:
            named = term_set(" ".join([with_synonyms(name), *lexicon.classes(name)]))
            if not named & have:
                return []  # a new entity the focus does not discuss: a change of topic
        return ids

    def fits(self, text: str, turns: Sequence[Turn]) -> bool:
        """Whether a turn that names nothing asks about the articles just cited: most of its
        content words are theirs ("how quickly can the dependence develop?"), unlike "How is
        multiple sclerosis diagnosed?" after gabapentin."""
        expanded = with_synonyms(text)
        words = self._content_terms(term_set(expanded))
        if len(words) <= FOCUS_FIT_FREE_WORDS:  # "mgmt?", "why the gap?": nothing else to ask of
            return True
        have = self.terms_of(self.cited_before(turns))
        if len(words & have) >= FOCUS_FIT_SHARE * len(words):
            return True
        # or on its less common words alone: everyday ones ("next step", "came back", "instead")
        # say nothing of the subject ("QTc came back 510")
        rare = self._content_terms(term_set(" ".join(
            w for w in re.findall(r"[A-Za-z][A-Za-z'-]*", expanded)
            if zipf(w.casefold()) < FOCUS_FIT_COMMON_ZIPF)))
        # nothing but everyday words ("what should we do next time he gets sick?"): nothing
        # says the turn is about something else
        return not rare or len(rare & have) >= FOCUS_FIT_SHARE * len(rare)

    @staticmethod
    def _content_terms(terms: frozenset[str]) -> set[str]:
        return {w for w in subject_terms(terms) - _GENERIC_TERMS
                if not w.isdigit()}  # "QTc came back 510": the figure is the patient's

    def cited_before(self, turns: Sequence[Turn]) -> list[str]:
        """The articles the latest answer cited (a refused turn in between skipped)."""
        manifest = self.store.manifest()
        for turn in [t for t in turns if t.role == "assistant"][-FOCUS_LOOKBACK:][::-1]:
            ids = [a for a in turn.cited if a in manifest] or self._ids_of_titles(turn.content)
            if ids:
                return ids[:MAX_FOCUS_ARTICLES]
        return []

    def terms_of(self, ids: Sequence[str]) -> set[str]:
        have: set[str] = set()
        for article_id in ids:
            have |= self.article_terms(article_id)
        return have

    def article_terms(self, article_id: str) -> frozenset[str]:
        """Every term of one article (all its chunks), cached per store signature."""
        def make() -> frozenset[str]:
            have: set[str] = set()
            for chunk in self.retriever.article_chunks(article_id):
                ct = self.retriever.chunk_terms(chunk)
                have |= ct.body | ct.fields
            return frozenset(have)

        return self._terms.get((self.store.signature(), article_id), make)

    def _ids_of_titles(self, rendered: str) -> list[str]:
        by_title = {e.title: e.article_id for e in self.store.manifest().values()}
        return [by_title[t] for t in dict.fromkeys(cited_titles([Turn("assistant", rendered)]))
                if t in by_title]
