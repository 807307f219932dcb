"""The lexical side: BM25 (bm25s) over each chunk's title, section and text.

Kept in step with the store by the store's signature: persisted beside an embedded store (and
rebuilt there when the signature differs), rebuilt in memory from the store's documents when the
store is a Chroma server.
"""

from __future__ import annotations

import json
import math
import shutil
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import bm25s
import numpy as np

from followup.chunks import Chunk
from followup.text import terms

LEXICAL_VERSION = "2"  # 2: "-ment" nouns stem with their verbs (followup.text.stem)


def lexical_text(chunk: Chunk) -> str:
    """What BM25 indexes: the title and section (field context) and the text."""
    return f"{chunk.title}\n{chunk.section}\n{chunk.text}"


class LexicalIndex:
    """BM25 over chunk ids; ``scores`` gives every chunk's score for a query."""

    def __init__(
        self, bm25: bm25s.BM25, ids: list[str], signature: str, df: dict[str, int]
    ) -> None:
        self._bm25 = bm25
        self.ids = ids
        self.signature = signature
        self.df = df
        self._pos = {cid: i for i, cid in enumerate(ids)}

    def idf(self, term: str) -> float:
        """Inverse document frequency (BM25's), for term weights in the second stage."""
        n = max(1, len(self.ids))
        df = self.df.get(term, 0)
        return math.log(1.0 + (n - df + 0.5) / (df + 0.5))

    @classmethod
    def build(cls, chunks: Iterable[Chunk], signature: str) -> LexicalIndex:
        ids: list[str] = []
        tokens: list[list[str]] = []
        df: Counter[str] = Counter()
        for c in chunks:
            ids.append(c.id)
            toks = terms(lexical_text(c)) or ["_empty_"]
            tokens.append(toks)
            df.update(set(toks))
        bm25 = bm25s.BM25(k1=1.2, b=0.75)
        bm25.index(tokens or [["_empty_"]], show_progress=False)
        return cls(bm25, ids, signature, dict(df))

    def save(self, folder: Path) -> None:
        """Write atomically: a sibling folder renamed into place."""
        tmp = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        self._bm25.save(str(tmp), show_progress=False)
        (tmp / "ids.json").write_text(json.dumps(self.ids), encoding="utf-8")
        (tmp / "df.json").write_text(json.dumps(self.df), encoding="utf-8")
        (tmp / "meta.json").write_text(
            json.dumps({"signature": self.signature, "version": LEXICAL_VERSION}),
            encoding="utf-8",
        )
        old = folder.with_name(folder.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if folder.exists():
            folder.rename(old)
        tmp.rename(folder)
        shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, folder: Path, signature: str) -> LexicalIndex | None:
        """The saved index when it matches ``signature``; None when missing or stale."""
        try:
            meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
            if meta.get("signature") != signature or meta.get("version") != LEXICAL_VERSION:
                return None
            ids = json.loads((folder / "ids.json").read_text(encoding="utf-8"))
            df = json.loads((folder / "df.json").read_text(encoding="utf-8"))
            bm25 = bm25s.BM25.load(str(folder), show_progress=False)
        except (OSError, ValueError):
            return None
        return cls(bm25, ids, signature, df)

    def scores(self, query_terms: Sequence[str]) -> np.ndarray:
        """BM25 score of every indexed chunk (aligned with ``ids``)."""
        if not self.ids or not query_terms:
            return np.zeros(len(self.ids), dtype=np.float32)
        return np.asarray(self._bm25.get_scores(list(query_terms)), dtype=np.float32)

    def top(self, query_terms: Sequence[str], k: int) -> list[tuple[str, float]]:
        s = self.scores(query_terms)
        if not len(s):
            return []
        k = min(k, len(s))
        idx = np.argpartition(-s, k - 1)[:k]
        idx = idx[np.argsort(-s[idx])]
        return [(self.ids[i], float(s[i])) for i in idx if s[i] > 0]

    def score_of(self, scores: np.ndarray, chunk_id: str) -> float:
        i = self._pos.get(chunk_id)
        return float(scores[i]) if i is not None else 0.0
