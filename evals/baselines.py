"""Retrieval baselines run beside the system in the same eval (``--baselines``).

* ``bm25``: our BM25 index alone (bm25s, same tokenisation), top 8.
* ``dense``: the same MiniLM embeddings in the same Chroma store alone, top 8.
* ``langchain-default``: LangChain's default path on the suite's corpus —
  RecursiveCharacterTextSplitter(1000, 200) + Chroma ``similarity_search`` k=4, same model.
* ``naive-conversation``: the naive conversation baseline, an *answerer*: the last two user
  turns concatenated, BM25 over every sentence of the store, the top 3 sentences quoted with
  their article, never refusing. Its answers are scored on every expectation, like ours.

Each returns passages as dicts shaped like the answer JSON's (``chunk_id``, ``article_id``,
``text``, ``start``, ``end``), so one set of metric code judges them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import bm25s
import numpy as np

from followup.passages import Passage
from followup.retriever.hybrid import HybridRetriever
from followup.text import terms

NAIVE_USER_TURNS = 2  # the naive baseline's query: the last two user turns, concatenated
NAIVE_SENTENCES = 3  # and its answer: the top three sentences by BM25, quoted


def passage_json(p: Passage) -> dict[str, Any]:
    c = p.chunk
    return {"chunk_id": c.id, "article_id": c.article_id, "section": c.section,
            "text": c.text, "start": c.start, "end": c.end, "score": round(p.score, 4)}


class StoreBaseline:
    """BM25 only or dense only over the store the system answers from."""

    def __init__(self, name: str, engine: Any, mode: Any) -> None:
        self.name = name
        self.retriever = HybridRetriever(engine.store, engine.embedder, engine.settings,
                                         mode=mode)

    def retrieve(self, query: str) -> list[dict[str, Any]]:
        return [passage_json(p) for p in self.retriever.retrieve(query, 8)]

    def relevant_pool(self, article_ids: set[str] | None) -> list[dict[str, Any]] | None:
        return None  # same chunks as the system: the system's count applies


class LangChainDefault:
    """RecursiveCharacterTextSplitter(1000, 200) + Chroma similarity k=4 (our model)."""

    name = "langchain-default"

    def __init__(self, folder: Path, sources: Sequence[Path], embedder: Any) -> None:
        from followup.retriever.langchain_adapter import default_chroma

        self._all: list[dict[str, Any]] | None = None
        self._by_article: dict[str, list[dict[str, Any]]] = {}
        self.db = default_chroma(folder, [str(s) for s in sources], embedder)

    @staticmethod
    def _json(text: str, meta: dict[str, Any]) -> dict[str, Any]:
        start = int(meta["start_index"])
        return {"chunk_id": f"lc:{meta['article_id']}:{start}", "article_id": meta["article_id"],
                "section": "", "text": text, "start": start, "end": start + len(text)}

    def retrieve(self, query: str) -> list[dict[str, Any]]:
        return [self._json(d.page_content, d.metadata)
                for d in self.db.similarity_search(query, k=4)]

    def relevant_pool(self, article_ids: set[str] | None) -> list[dict[str, Any]] | None:
        """The baseline's passages of these articles (all when none are named), read once."""
        if not article_ids:
            if self._all is None:
                self._all = self._read(None)
            return self._all
        missing = sorted(a for a in article_ids if a not in self._by_article)
        if missing:
            for a in missing:
                self._by_article[a] = []
            for p in self._read({"article_id": {"$in": missing}}):
                self._by_article[p["article_id"]].append(p)
        return [p for a in sorted(article_ids) for p in self._by_article[a]]

    def _read(self, where: Any) -> list[dict[str, Any]]:
        got = self.db.get(where=where, include=["documents", "metadatas"])
        return [self._json(t, m) for t, m in zip(got["documents"], got["metadatas"],
                                                 strict=True)]


class NaiveConversation:
    """The naive conversation baseline (module docstring): an answer dict shaped like ours."""

    name = "naive-conversation"

    def __init__(self, engine: Any, disclaimer: str) -> None:
        self.disclaimer = disclaimer
        self._rows: list[dict[str, Any]] = []
        tokens: list[list[str]] = []
        for c in engine.store.iter_chunks():
            for s in c.sentences:
                self._rows.append({"text": s.text, "citations": list(s.citations),
                                   "chunk_id": c.id, "article_id": c.article_id,
                                   "section": c.section, "start": s.start, "end": s.end})
                tokens.append(terms(s.text) or ["_empty_"])
        self._bm25 = bm25s.BM25(k1=1.2, b=0.75)
        self._bm25.index(tokens or [["_empty_"]], show_progress=False)

    def answer(self, question: str, earlier_user_turns: Sequence[str]) -> dict[str, Any]:
        query = " ".join([*earlier_user_turns[-(NAIVE_USER_TURNS - 1):], question])
        q = terms(query)
        scores = (self._bm25.get_scores(q) if q and self._rows
                  else np.zeros(len(self._rows)))
        top = [self._rows[i] for i in np.argsort(-scores, kind="stable")[:NAIVE_SENTENCES]
               if scores[i] > 0]
        body = " ".join(r["text"] for r in top)
        return {"question": question, "standalone_question": query,
                "answer": f"{body}\n\n*{self.disclaimer}*", "abstained": False,
                "sentences": [{k: r[k] for k in ("text", "citations", "chunk_id",
                                                  "article_id", "section")} for r in top],
                "references": [{"n": n, "article_id": a} for n, a in enumerate(
                    dict.fromkeys(r["article_id"] for r in top), 1)],
                "disclaimer": self.disclaimer,
                "passages": [{"chunk_id": r["chunk_id"], "article_id": r["article_id"],
                              "section": r["section"], "text": r["text"],
                              "start": r["start"], "end": r["end"]} for r in top]}

    def retrieve(self, query: str) -> list[dict[str, Any]]:
        return self.answer(query, [])["passages"]

    def relevant_pool(self, article_ids: set[str] | None) -> list[dict[str, Any]] | None:
        return None
