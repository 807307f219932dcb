"""Retrieval over the store: dense (Chroma) and lexical (bm25s) search fused, then re-scored.

``hybrid.HybridRetriever`` is the retriever, ``lexical.LexicalIndex`` the BM25 side kept in step
with the store, ``langchain_adapter.FollowupRetriever`` the LangChain view of it.
"""
