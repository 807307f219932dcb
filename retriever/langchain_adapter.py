"""The hybrid retriever as a LangChain ``BaseRetriever`` (LangChain types stay in this file)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field

from followup.embedders import Embedder
from followup.passages import Passage
from followup.retriever.hybrid import HybridRetriever


class EmbedderEmbeddings(Embeddings):
    """Our embedder as LangChain ``Embeddings`` (the baselines use the very same model)."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embedder.embed(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.embedder.embed([text])[0]


def passage_document(p: Passage) -> Document:
    c = p.chunk
    return Document(
        page_content=c.text,
        id=c.id,
        metadata={
            "chunk_id": c.id, "article_id": c.article_id, "title": c.title,
            "section": c.section, "url": c.url, "updated": c.updated,
            "review_status": c.review_status, "citations": list(c.citations),
            "score": p.score, "dense": p.dense, "lexical": p.lexical,
        },
    )


class FollowupRetriever(BaseRetriever):
    """LangChain view of ``HybridRetriever``: ``FollowupRetriever(hybrid=h, k=4)``."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    hybrid: HybridRetriever
    k: int = Field(default=4, ge=1, le=100)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        k = int(kwargs.get("k") or self.k)
        return [passage_document(p) for p in self.hybrid.retrieve(query, k)]


def default_chroma(folder: Path, sources: Sequence[str], embedder: Embedder) -> Any:
    """LangChain's default path, the baseline of the benches and evals: the sources' text split
    by ``RecursiveCharacterTextSplitter(1000, 200)`` into a Chroma collection in ``folder``
    (built once; its documents carry ``article_id`` and ``start_index``), same model as ours."""
    from langchain_chroma import Chroma
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from followup.importers import read_sources
    from followup.settings import Settings

    db = Chroma(collection_name="langchain-default",
                embedding_function=EmbedderEmbeddings(embedder), persist_directory=str(folder))
    if db._collection.count() == 0:
        arts = [a for a in read_sources(list(sources), Settings()).results
                if not isinstance(a, Exception)]
        docs = [Document(a.source_text, metadata={"article_id": a.id}) for a in arts]
        splits = RecursiveCharacterTextSplitter(
            chunk_size=1000, chunk_overlap=200, add_start_index=True).split_documents(docs)
        for lo in range(0, len(splits), 2000):
            db.add_documents(splits[lo: lo + 2000])
    return db
