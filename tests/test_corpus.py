"""The sample corpus: at least 20 well-formed articles, each complete and fully referenced."""

from __future__ import annotations

import pytest

from followup.importers import discover
from followup.parser import parse_article_text
from tests.conftest import CORPUS

FILES = [p for p in discover([CORPUS])]


def test_corpus_size_and_topics() -> None:
    assert len(FILES) >= 20
    assert (CORPUS / "withdrawal-muscle-spasms.md").exists()
    assert "sample content" in (CORPUS / "README.md").read_text(encoding="utf-8").lower()


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_article_is_complete(path) -> None:  # type: ignore[no-untyped-def]
    a = parse_article_text(path.read_text(encoding="utf-8"), str(path))
    assert a.id == path.stem
    assert a.title.endswith("?"), "the title is the clinician's question"
    assert a.updated and a.updated.startswith("20"), "a Last updated date"
    assert a.review_status in {"Approved", "Under Review", "Submitted"}
    assert a.answer is not None and a.answer.sentences, "a direct answer"
    assert len(a.sections) >= 4
    assert a.disclaimer and "healthcare professionals" in a.disclaimer
    assert not a.warnings, a.warnings
    assert len(a.references) >= 3
    assert all(a.references.values()), "every cited number has its reference text"
    for section in a.sections:
        for s in section.sentences:
            assert a.source_text[s.start:s.end] == s.text
