"""One small cache for the engine's derived data: bounded (cleared when full: entries are cheap to
rebuild), locked (the chat's workers share an engine), keyed by the caller — by the store's
signature or an article version, so an ingest never serves stale entries."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._data: dict[K, V] = {}
        self._lock = threading.Lock()

    def get(self, key: K, make: Callable[[], V]) -> V:
        """The cached value for ``key``, made (outside the lock) when missing."""
        with self._lock:
            if key in self._data:
                return self._data[key]
        value = make()
        with self._lock:
            if len(self._data) >= self.max_entries:
                self._data.clear()
            self._data[key] = value
        return value

    def __len__(self) -> int:
        return len(self._data)
