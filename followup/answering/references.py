"""The answer's references: numbered in order of first use, one per (article, reference number);
a sentence of an article without reference numbers cites the article itself."""

from __future__ import annotations

from collections.abc import Sequence

from followup.answers import Reference
from followup.chunks import Chunk


class ReferenceBook:
    """Answer references numbered in order of first use: (article, its reference number)."""

    def __init__(self) -> None:
        self._refs: dict[tuple[str, int | None], Reference] = {}

    def markers(self, chunk: Chunk, source_citations: Sequence[int]) -> tuple[int, ...]:
        """Markers for a sentence of ``chunk`` citing ``source_citations`` (none: the article)."""
        keys: list[tuple[str, int | None]] = (
            [(chunk.article_id, n) for n in source_citations] if source_citations
            else [(chunk.article_id, None)]
        )
        out: list[int] = []
        for key in keys:
            if key not in self._refs:
                ref_number = key[1]
                self._refs[key] = Reference(
                    n=len(self._refs) + 1,
                    article_id=chunk.article_id,
                    article_title=chunk.title,
                    ref_number=ref_number,
                    ref_text=chunk.references.get(ref_number) if ref_number is not None else None,
                    url=chunk.url,
                    updated=chunk.updated,
                    review_status=chunk.review_status,
                )
            if self._refs[key].n not in out:
                out.append(self._refs[key].n)
        return tuple(out)

    @property
    def references(self) -> list[Reference]:
        return list(self._refs.values())
