"""Importers on slices of the shared public datasets, and format detection."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from followup.errors import ArticleError, NothingToIngest, UsageError
from followup.importers import read_sources
from followup.settings import Settings
from tests.conftest import DATASETS

MEDQUAD = DATASETS / "medquad"
PUBMEDQA = DATASETS / "pubmedqa" / "pqal_dev.json"
COVIDQA = DATASETS / "covid-qa" / "covidqa_dev.json"


def _articles(paths: list, fmt: str = "auto") -> list:  # type: ignore[type-arg]
    scan = read_sources(paths, Settings(), fmt)
    return [r for r in scan.results if not isinstance(r, Exception)]


def test_medquad_ids_sections_and_reference(tmp_path: Path) -> None:
    for coll, stem in (("3_GHR_QA", "0000001"), ("1_CancerGov_QA", "0000001_1"),
                       ("2_GARD_QA", "0000004")):
        (tmp_path / coll).mkdir()
        shutil.copy(MEDQUAD / coll / f"{stem}.xml", tmp_path / coll)
    arts = {a.id: a for a in _articles([tmp_path])}
    assert set(arts) == {"medquad-3-0000001", "medquad-1-0000001_1", "medquad-2-0000004"}
    ghr = arts["medquad-3-0000001"]
    assert ghr.title == "Aarskog-Scott syndrome"
    assert ghr.url == "https://ghr.nlm.nih.gov/condition/aarskog-scott-syndrome"
    assert ghr.sections[0].heading == "What is (are) Aarskog-Scott syndrome ?"
    assert len(ghr.sections) >= 3
    assert ghr.references[1] and ghr.url in ghr.references[1]
    for s in ghr.sections:
        for x in s.sentences:
            assert ghr.source_text[x.start:x.end] == x.text and x.citations == (1,)
    assert "widow's peak" in ghr.source_text  # XML entities decoded


def test_medquad_page_without_answers_is_skipped_not_failed() -> None:
    scan = read_sources([MEDQUAD / "5_NIDDK_QA" / "0000056.xml"], Settings())
    assert len(scan.results) == 1 and isinstance(scan.results[0], NothingToIngest)


def test_pubmedqa_abstract_only(tmp_path: Path) -> None:
    data = json.loads(PUBMEDQA.read_text(encoding="utf-8"))
    subset = dict(list(data.items())[:5])
    path = tmp_path / "slice.json"
    path.write_text(json.dumps(subset), encoding="utf-8")
    arts = _articles([path])
    assert [a.id for a in arts] == [f"pubmedqa-{pmid}" for pmid in subset]
    for a, (pmid, rec) in zip(arts, subset.items(), strict=True):
        assert [s.heading.upper() for s in a.sections] == [lab.upper() for lab in rec["LABELS"]]
        assert rec["QUESTION"] not in a.source_text
        assert rec["LONG_ANSWER"] not in a.source_text
        assert a.url == f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/"
        assert pmid in (a.references[1] or "")
        assert rec["CONTEXTS"][0] in a.source_text


def test_covidqa_paper_without_questions(tmp_path: Path) -> None:
    data = json.loads(COVIDQA.read_text(encoding="utf-8"))
    subset = {"data": data["data"][:3]}
    path = tmp_path / "slice.json"
    path.write_text(json.dumps(subset), encoding="utf-8")
    arts = _articles([path])
    assert len(arts) == 3
    for a, doc in zip(arts, subset["data"], strict=True):
        para = doc["paragraphs"][0]
        assert a.id == f"covidqa-{para['document_id']}"
        assert a.source_text == para["context"]  # spans line up with the gold answer spans
        text = " ".join(x.text for s in a.sections for x in s.sentences)
        for qa in para["qas"]:
            assert qa["question"] not in text
        assert a.url and a.url.startswith("https://www.ncbi.nlm.nih.gov/pmc/")
        assert not text.startswith(("Authors", "SHA"))


def test_format_auto_and_forced(tmp_path: Path) -> None:
    (tmp_path / "paper.pdf").write_bytes(b"%PDF-1.4 not ours")
    (tmp_path / "other.json").write_text('{"hello": 1}', encoding="utf-8")
    scan = read_sources([tmp_path], Settings())
    errors = [r for r in scan.results if isinstance(r, ArticleError)]
    assert len(errors) == 2
    assert all("unknown format" in e.reason or "binary" in e.reason or "COVID-QA" in e.reason
               for e in errors)
    with pytest.raises(UsageError):
        read_sources([tmp_path], Settings(), "nonsense")
    with pytest.raises(UsageError):
        read_sources([tmp_path / "missing"], Settings())


def test_medquad_older_schemas(tmp_path: Path) -> None:
    """<doc>/<pair> (NINDS) and <DiseaseFile> (CDC) pages parse like <Document> pages."""
    for coll, stem in (("6_NINDS_QA", "0000007"), ("9_CDC_QA", "0000397")):
        (tmp_path / coll).mkdir()
        shutil.copy(MEDQUAD / coll / f"{stem}.xml", tmp_path / coll)
    arts = {a.id: a for a in _articles([tmp_path])}
    assert arts["medquad-6-0000007"].title == "Holmes-Adie"
    assert arts["medquad-6-0000007"].sections[0].heading == "what is holmes-adie syndrome ?"
    assert len(arts["medquad-9-0000397"].sections) == 5


def test_every_medquad_page_reads() -> None:
    """All 5,497 pages: each an article, or skipped because its answers were removed."""
    scan = read_sources([MEDQUAD], Settings())
    assert len(scan.results) == 5497
    failed = [r for r in scan.results
              if isinstance(r, ArticleError) and not isinstance(r, NothingToIngest)]
    assert failed == []
