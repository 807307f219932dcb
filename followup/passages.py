"""``Passage``: a retrieved chunk with its scores, the type retrieval hands to answering."""

from __future__ import annotations

from dataclasses import dataclass

from followup.chunks import Chunk


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its scores (``score`` orders the results)."""

    chunk: Chunk
    score: float
    dense: float
    lexical: float
    coverage: float
    field: float
    window: float = 0.0
    phrase: float = 0.0
    answer_type: float = 0.0  # 1.0 when the passage holds the kind of answer asked for
