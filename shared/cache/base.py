"""The cache capability: bytes by key with a time to live."""

from __future__ import annotations

import hashlib
import json
from typing import Protocol, runtime_checkable


@runtime_checkable
class ByteCache(Protocol):
    name: str

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None: ...

    def state(self) -> dict[str, object]:
        """What it is and how it fares (backend, hits, misses, errors), for /debug/counters."""
        ...


def cache_key(namespace: str, **parts: object) -> str:
    """`namespace:` + SHA-256 over the parts (sorted, JSON), so any change in anything
    that changes the value changes the key."""
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()
    return f"{namespace}:{digest}"
