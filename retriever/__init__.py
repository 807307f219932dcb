"""Retrieval over the store: dense (Chroma) and lexical search fused, then re-scored.

The answering issue builds it here; ingest (``ingest.py``) and the store (``followup.store``)
are what it reads from.
"""
