"""Redis first, in-memory always: a `ByteCache` that keeps working when Redis does not.

- `get`: Redis while it is healthy, then the in-memory cache (which also holds what
  was written while Redis was away);
- `set`: in memory always, and in Redis while it is healthy;
- a Redis failure marks it down for a backoff (doubling from `backoff_min` up to
  `backoff_max` seconds); the first call after the backoff tries Redis again, and a
  success makes it healthy (so the worker goes back to Redis when Redis comes back).
"""

from __future__ import annotations

import logging
import time

from shared.cache.memory import MemoryCache
from shared.cache.redis_cache import CacheUnavailable, RedisCache
from shared.cache.stats import CacheStats

log = logging.getLogger(__name__)


class FallbackCache:
    name = "redis+memory"

    def __init__(
        self,
        primary: RedisCache,
        fallback: MemoryCache,
        backoff_min: float = 0.5,
        backoff_max: float = 10.0,
        metric: str = "",
    ) -> None:
        self.primary = primary
        self.fallback = fallback
        self.backoff_min = backoff_min
        self.backoff_max = backoff_max
        self.stats = CacheStats(metric=metric)  # `metric`: its name in Prometheus
        self._down_until = 0.0
        self._backoff = 0.0
        self.last_error = ""

    @property
    def primary_available(self) -> bool:
        return self._backoff == 0.0

    def _primary_usable(self) -> bool:
        return self._backoff == 0.0 or time.monotonic() >= self._down_until

    def _failed(self, exc: CacheUnavailable) -> None:
        self._backoff = min(self.backoff_max, max(self.backoff_min, self._backoff * 2))
        self._down_until = time.monotonic() + self._backoff
        if str(exc) != self.last_error:
            log.warning(
                "redis cache unavailable, using memory",
                extra={"error": str(exc), "retry_in_s": self._backoff},
            )
        self.last_error = str(exc)

    def _recovered(self) -> None:
        if self._backoff:
            log.info("redis cache is back")
        self._backoff = 0.0
        self.last_error = ""

    async def get(self, key: str) -> bytes | None:
        if self._primary_usable():
            try:
                value = await self.primary.get(key)
            except CacheUnavailable as exc:
                self.stats.error()
                self._failed(exc)
            else:
                self._recovered()
                if value is not None:
                    self.stats.hit()
                    return value
        value = self.fallback.get_nowait(key)
        if value is None:
            self.stats.miss()
        else:
            self.stats.hit()
        return value

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        self.fallback.set_nowait(key, value, ttl_seconds)
        self.stats.sets += 1
        if self._primary_usable():
            try:
                await self.primary.set(key, value, ttl_seconds)
            except CacheUnavailable as exc:
                self.stats.error()
                self._failed(exc)
            else:
                self._recovered()

    def state(self) -> dict[str, object]:
        return {
            "backend": self.name,
            "available": True,
            **self.stats.as_dict(),
            "redis": {
                "available": self.primary_available,
                "url": _redact(self.primary.url),
                "prefix": self.primary.prefix,
                "last_error": self.last_error,
                **self.primary.stats.as_dict(),
            },
            "memory": self.fallback.state(),
        }

    async def close(self) -> None:
        await self.primary.close()
        await self.fallback.close()


def _redact(url: str) -> str:
    """The URL without its password (never logged or shown)."""
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.rpartition('@')[2]}"
