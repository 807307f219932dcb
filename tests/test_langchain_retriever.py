"""langchain-tests' standard retriever suite against our hybrid retriever (real store, model)."""

from __future__ import annotations

import shutil
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

from langchain_tests.integration_tests import RetrieversIntegrationTests

from followup.embedders import get_embedder
from followup.ingest import ingest
from followup.retriever.hybrid import HybridRetriever
from followup.retriever.langchain_adapter import FollowupRetriever
from followup.settings import Settings
from followup.store import open_store
from tests.conftest import CORPUS


@cache
def _hybrid() -> HybridRetriever:
    root = Path(tempfile.mkdtemp(prefix="followup-lc-"))
    corpus = root / "corpus"
    corpus.mkdir()
    for name in ("withdrawal-muscle-spasms", "baclofen-withdrawal", "opioid-tapering"):
        shutil.copy(CORPUS / f"{name}.md", corpus)
    settings = Settings(store_dir=root / "store", progress=False)
    embedder = get_embedder(settings)
    ingest([corpus], settings, embedder=embedder)
    return HybridRetriever(open_store(settings), embedder, settings)


class TestFollowupRetriever(RetrieversIntegrationTests):
    @property
    def retriever_constructor(self) -> type[FollowupRetriever]:
        return FollowupRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"hybrid": _hybrid(), "k": 4}

    @property
    def retriever_query_example(self) -> str:
        return "baclofen withdrawal spasticity"


def test_documents_carry_citations() -> None:
    docs = FollowupRetriever(hybrid=_hybrid(), k=2).invoke("What about baclofen pumps?")
    assert docs[0].metadata["article_id"] == "baclofen-withdrawal"
    assert docs[0].metadata["citations"] and docs[0].metadata["score"] >= docs[1].metadata["score"]
