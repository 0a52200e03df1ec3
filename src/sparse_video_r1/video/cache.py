"""Bounded, thread-safe LRU caches shared by every Video of a process: decoded frames (by bytes) and
opened decoders (by count). The rollouts of a GRPO group ask for the same video, often the same frames."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

import numpy as np

V = TypeVar("V")


class LRUCache(Generic[V]):
    """Least-recently-used cache bounded by the summed `size_of` its values (1 per value by default)."""

    def __init__(self, capacity: int, size_of: Callable[[V], int] = lambda _: 1) -> None:
        self.capacity = capacity
        self._size_of = size_of
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    @property
    def size(self) -> int:
        return self._size

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: Hashable, value: V) -> None:
        size = self._size_of(value)
        with self._lock:
            if key in self._items:
                self._size -= self._size_of(self._items.pop(key))
            if size > self.capacity:
                return
            self._items[key] = value
            self._size += size
            while self._size > self.capacity:
                _, evicted = self._items.popitem(last=False)
                self._size -= self._size_of(evicted)

    def discard(self, key: Hashable, value: V) -> None:
        """Remove `key` only while it still holds this very `value` (not a replacement put since)."""
        with self._lock:
            if self._items.get(key) is value:
                self._size -= self._size_of(self._items.pop(key))

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._size = 0


def _frame_bytes(frame: np.ndarray) -> int:
    return frame.nbytes


FRAME_CACHE_BYTES = int(os.environ.get("SVR1_FRAME_CACHE_MB", "512")) * 2**20
MAX_OPEN_DECODERS = int(os.environ.get("SVR1_MAX_OPEN_VIDEOS", "32"))

frame_cache: LRUCache[np.ndarray] = LRUCache(FRAME_CACHE_BYTES, _frame_bytes)
decoder_cache: LRUCache = LRUCache(MAX_OPEN_DECODERS)
