"""Hybrid retrieval: dense (Chroma) and lexical (BM25) candidates, both scored exactly for every
candidate, fused with a tuned weight, then re-scored by a second stage of our own.

Second stage (no cross-encoder ships on PyPI): IDF-weighted query-term coverage of the passage,
and of its title and section (field boost); the best coverage by two consecutive sentences
(window: an answer sits in one place, not spread over the passage); the share of the question's
adjacent term pairs that stand adjacent in the passage (phrase); whether the passage holds the kind
of answer the question's opening asks for (a duration for "how long": followup/answer_type.py).
Weights: README, "Retrieval".
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from followup.answer_type import expected
from followup.caches import BoundedCache
from followup.chunks import Chunk
from followup.embedders import Embedder
from followup.passages import Passage
from followup.retriever.lexical import LexicalIndex
from followup.settings import Settings
from followup.store import ChunkStore
from followup.text import term_set, terms

Mode = Literal["hybrid", "dense", "bm25"]
_CACHE_MAX = 200_000  # chunks whose terms are kept (ids are versioned: never stale, only old)
_ARTICLES_MAX = 256  # articles whose chunk lists are kept
MAX_WITHIN_ARTICLES = 3  # a conversation's focus: the articles its last answer cited


@dataclass(frozen=True)
class ChunkTerms:
    """A chunk's terms, computed once (one tokenizer pass over its sentences) and cached."""

    body: frozenset[str]
    fields: frozenset[str]  # title and section
    pairs: frozenset[tuple[str, str]]  # adjacent terms of the text
    sentences: tuple[frozenset[str], ...]

    @classmethod
    def of(cls, chunk: Chunk) -> ChunkTerms:
        per = [terms(s.text) for s in chunk.sentences]
        seq = [t for ts in per for t in ts]  # == terms(chunk.text): words never span a newline
        return cls(frozenset(seq), term_set(f"{chunk.title} {chunk.section}"),
                   frozenset(itertools.pairwise(seq)), tuple(frozenset(ts) for ts in per))


def lexical_folder(settings: Settings) -> Path:
    """Where the store's BM25 index and lexicon are kept: beside an embedded store; for a
    Chroma server, in the local store folder under a name of the server and collection."""
    if not settings.chroma_url:
        return settings.store_dir / f"lexical-{settings.collection}"
    server = hashlib.sha256(settings.chroma_url.encode()).hexdigest()[:12]
    return settings.store_dir / f"lexical-{settings.collection}-server-{server}"


def ensure_lexical_index(store: ChunkStore, settings: Settings) -> LexicalIndex:
    """The BM25 index in step with the store: loaded when its signature is the store's,
    rebuilt (and saved) otherwise."""
    signature = store.signature()
    folder = lexical_folder(settings)
    index = LexicalIndex.load(folder, signature)
    if index is None:
        index = LexicalIndex.build(store.iter_chunks(), signature)
        with contextlib.suppress(OSError):  # a read-only folder: this process keeps its copy
            index.save(folder)
    return index


class HybridRetriever:
    """Dense + BM25 + second stage over one store. Thread-safe for concurrent queries."""

    def __init__(self, store: ChunkStore, embedder: Embedder, settings: Settings,
                 mode: Mode = "hybrid") -> None:
        self.store = store
        self.embedder = embedder
        self.settings = settings
        self.mode = mode
        self._lexical: LexicalIndex | None = None
        self._lock = threading.Lock()
        self._terms: dict[str, ChunkTerms] = {}
        self._holds: dict[tuple[str, re.Pattern[str]], bool] = {}
        self._query_vectors: dict[str, np.ndarray] = {}
        self._cache_lock = threading.Lock()
        self._articles: BoundedCache[tuple[str, str], list[Chunk]] = BoundedCache(
            _ARTICLES_MAX)

    def lexical(self) -> LexicalIndex:
        with self._lock:
            if self._lexical is None or self._lexical.signature != self.store.signature():
                self._lexical = ensure_lexical_index(self.store, self.settings)
            return self._lexical

    def refresh(self) -> None:
        """Pick up a re-ingested store (manifest and lexical index)."""
        self.store.manifest(refresh=True)
        self.lexical()

    def retrieve(self, query: str, k: int = 8, within: Sequence[str] = ()) -> list[Passage]:
        """The ``k`` best passages for ``query``, best first; with ``within`` (article ids),
        every chunk of those articles is a candidate and nothing else is."""
        s = self.settings
        n = s.retrieval_candidates
        q_seq = terms(query)
        q_terms = list(dict.fromkeys(q_seq))
        q_pairs = set(itertools.pairwise(q_seq))
        lex = self.lexical()
        lex_scores = lex.scores(q_terms)
        candidates: dict[str, tuple[Chunk, float]] = {}
        q_vec: np.ndarray | None = None
        if within:
            q_vec = self.query_vector(query)
            ids = [c.id for a in within[:MAX_WITHIN_ARTICLES] for c in self.article_chunks(a)]
            for cid, (chunk, emb) in self.store.get_chunks(ids).items():
                candidates[cid] = (chunk, float(np.dot(q_vec, np.asarray(emb))))
        elif self.mode != "bm25":
            q_vec = self.query_vector(query)
            for chunk, cos in self.store.search(q_vec.tolist(), n):
                candidates[chunk.id] = (chunk, cos)
        if self.mode != "dense" and not within:
            missing = [cid for cid, _ in lex.top(q_terms, n) if cid not in candidates]
            for cid, (chunk, emb) in self.store.get_chunks(missing).items():
                cos = float(np.dot(q_vec, np.asarray(emb))) if q_vec is not None else 0.0
                candidates[cid] = (chunk, cos)
        if not candidates:
            return []
        top_lex = float(lex_scores.max()) if len(lex_scores) else 0.0
        weights = {t: lex.idf(t) for t in q_terms}
        total = sum(weights.values()) or 1.0
        wanted = expected(query) if s.answer_type_weight else None
        out: list[Passage] = []
        for cid, (chunk, cos) in candidates.items():
            lex_norm = lex.score_of(lex_scores, cid) / top_lex if top_lex > 0 else 0.0
            ct = self.chunk_terms(chunk)
            coverage = sum(w for t, w in weights.items() if t in ct.body or t in ct.fields) / total
            field = sum(w for t, w in weights.items() if t in ct.fields) / total
            window = _window(ct.sentences, weights) / total if s.window_weight else 0.0
            phrase = len(q_pairs & ct.pairs) / len(q_pairs) if q_pairs else 0.0
            typed = 1.0 if wanted is not None and self.holds(chunk, wanted) else 0.0
            if self.mode == "dense":
                score = cos
            elif self.mode == "bm25":
                score = lex_norm
            else:
                score = (s.dense_weight * cos + (1 - s.dense_weight) * lex_norm
                         + s.coverage_weight * coverage + s.field_weight * field
                         + s.window_weight * window + s.phrase_weight * phrase
                         + s.answer_type_weight * typed)
            out.append(Passage(chunk, score, cos, lex_norm, coverage, field, window, phrase,
                               typed))
        out.sort(key=lambda p: p.score, reverse=True)
        return out[:k]

    def article_chunks(self, article_id: str) -> list[Chunk]:
        """The committed chunks of one article, cached per store signature."""
        return self._articles.get((self.store.signature(), article_id),
                                  lambda: self.store.article_chunks(article_id))

    def query_vector(self, query: str) -> np.ndarray:
        """The query's embedding; the last few are kept, so composing the answer to the same
        question does not embed it again."""
        vec = self._query_vectors.get(query)
        if vec is None:
            vec = np.asarray(self.embedder.embed([query])[0], dtype=np.float32)
            with self._cache_lock:
                if len(self._query_vectors) >= 64:
                    self._query_vectors.pop(next(iter(self._query_vectors)))
                self._query_vectors[query] = vec
        return vec

    def chunk_terms(self, chunk: Chunk) -> ChunkTerms:
        """The chunk's terms, cached: a chunk id names one version of its article."""
        cached = self._terms.get(chunk.id)
        if cached is None:
            cached = ChunkTerms.of(chunk)
            if len(self._terms) > _CACHE_MAX:
                self._terms.clear()
            self._terms[chunk.id] = cached
        return cached

    def holds(self, chunk: Chunk, pattern: re.Pattern[str]) -> bool:
        """Whether the chunk's text holds ``pattern`` (an answer type), cached like its terms:
        a regex scan of every candidate cost ~8 ms per typed question."""
        key = (chunk.id, pattern)
        found = self._holds.get(key)
        if found is None:
            found = bool(pattern.search(chunk.text))
            if len(self._holds) > _CACHE_MAX:
                self._holds.clear()
            self._holds[key] = found
        return found

    def retrieve_many(self, queries: Sequence[str], k: int = 8) -> list[list[Passage]]:
        return [self.retrieve(q, k) for q in queries]


def _window(sentences: Sequence[frozenset[str]], weights: dict[str, float]) -> float:
    """Best IDF weight of the question's terms found in two consecutive sentences: an answer
    usually sits in one place, not spread over the passage."""
    best = 0.0
    for i, one in enumerate(sentences):
        pair = one | sentences[i + 1] if i + 1 < len(sentences) else one
        best = max(best, sum(w for t, w in weights.items() if t in pair))
    return best
