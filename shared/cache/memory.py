"""An in-process byte cache with a time to live per entry and least-recently-used
eviction beyond `max_entries`: the embedded default, and the fallback when Redis is
down. Everything runs on the event loop thread, so no lock is needed."""

from __future__ import annotations

import time
from collections import OrderedDict

from shared.cache.stats import CacheStats


class MemoryCache:
    """TTL + LRU. `max_bytes` (0: no limit) also bounds the total size of the values."""

    name = "memory"

    def __init__(self, max_entries: int = 1000, max_bytes: int = 0, metric: str = "") -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.stats = CacheStats(metric=metric)  # `metric`: its name in Prometheus
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    async def get(self, key: str) -> bytes | None:
        return self.get_nowait(key)

    def get_nowait(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            self.stats.miss()
            return None
        expires, value = entry
        if expires <= time.monotonic():
            self._drop(key)
            self.stats.miss()
            return None
        self._entries.move_to_end(key)
        self.stats.hit()
        return value

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        self.set_nowait(key, value, ttl_seconds)

    def set_nowait(self, key: str, value: bytes, ttl_seconds: float) -> None:
        if ttl_seconds <= 0 or (self.max_bytes and len(value) > self.max_bytes):
            return
        if key in self._entries:
            self._drop(key)
        self._entries[key] = (time.monotonic() + ttl_seconds, value)
        self._bytes += len(value)
        self.stats.sets += 1
        while len(self._entries) > self.max_entries or (
            self.max_bytes and self._bytes > self.max_bytes
        ):
            oldest = next(iter(self._entries))
            self._drop(oldest)

    def _drop(self, key: str) -> None:
        _, value = self._entries.pop(key)
        self._bytes -= len(value)

    def state(self) -> dict[str, object]:
        return {
            "backend": self.name,
            "available": True,
            "entries": len(self._entries),
            "bytes": self._bytes,
            **self.stats.as_dict(),
        }

    async def close(self) -> None:
        self._entries.clear()
        self._bytes = 0
