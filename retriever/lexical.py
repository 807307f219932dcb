"""The lexical side: BM25 (bm25s) over each chunk's title, section and text.

Kept in step with the store by the store's signature: persisted beside the store (and rebuilt
when the signature differs); for a Chroma server, in the local store folder under a name of the
server's URL, so every worker on the machine loads the one index. The entity lexicon
(followup.lexicon) is built from the same chunks and saved with it.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import bm25s
import numpy as np

from followup.chunks import Chunk
from followup.lexicon import Lexicon
from followup.text import terms

# 2: "-ment" nouns stem with their verbs; 3: the entity lexicon beside it; 4: its name stems;
# 5: the lexicon reads titles and sections too
LEXICAL_VERSION = "5"


def lexical_text(chunk: Chunk) -> str:
    """What BM25 indexes: the title and section (field context) and the text."""
    return f"{chunk.title}\n{chunk.section}\n{chunk.text}"


class LexicalIndex:
    """BM25 over chunk ids; ``scores`` gives every chunk's score for a query."""

    def __init__(
        self, bm25: bm25s.BM25, ids: list[str], signature: str, df: dict[str, int],
        lexicon: Lexicon | None = None,
    ) -> None:
        self._bm25 = bm25
        self.ids = ids
        self.signature = signature
        self.df = df
        self.lexicon = lexicon or Lexicon()  # built from the same chunks (followup.lexicon)
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
        texts: list[str] = []
        for c in chunks:
            ids.append(c.id)
            toks = terms(lexical_text(c)) or ["_empty_"]
            tokens.append(toks)
            df.update(set(toks))
            texts.append(lexical_text(c))  # title and section too: "NSAIDs such as …" headings
        bm25 = bm25s.BM25(k1=1.2, b=0.75)
        bm25.index(tokens or [["_empty_"]], show_progress=False)
        return cls(bm25, ids, signature, dict(df), Lexicon.build(texts))

    def save(self, folder: Path) -> None:
        """Write atomically: a private sibling folder renamed into place. When several workers
        save at once, each writes its own and the last rename wins (same signature, same
        content); a reader sees the old index or the new one, never a half-written one."""
        tag = f"{os.getpid()}-{threading.get_ident()}"
        tmp = folder.with_name(f"{folder.name}.tmp-{tag}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        self._bm25.save(str(tmp), show_progress=False)
        (tmp / "ids.json").write_text(json.dumps(self.ids), encoding="utf-8")
        (tmp / "df.json").write_text(json.dumps(self.df), encoding="utf-8")
        self.lexicon.save(tmp)
        (tmp / "meta.json").write_text(
            json.dumps({"signature": self.signature, "version": LEXICAL_VERSION}),
            encoding="utf-8",
        )
        old = folder.with_name(f"{folder.name}.old-{tag}")
        try:
            if folder.exists():
                folder.rename(old)
            tmp.rename(folder)
        except OSError:  # another worker put its copy in place between the two renames
            shutil.rmtree(tmp, ignore_errors=True)
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
        lexicon = Lexicon.load(folder)
        if lexicon is None:
            return None  # damaged or missing: rebuilt with the index
        return cls(bm25, ids, signature, df, lexicon)

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
