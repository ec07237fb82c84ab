"""Per-cache counters: hits, misses, errors (shown by the worker's /readyz and /metrics)."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    errors: int = 0
    sets: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)
