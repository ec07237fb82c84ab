"""A byte cache in Redis, shared by every worker: values are the cached bytes, the TTL
is Redis's own (`SET key value PX ttl`), keys carry a configurable prefix.

Failures are not hidden here: `get`/`set` raise `CacheUnavailable` on connection
refused, timeouts or protocol errors, and `FallbackCache` decides what to do."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from shared.cache.stats import CacheStats


class CacheUnavailable(RuntimeError):
    """The cache backend could not answer (down, slow, or broken)."""


class RedisCache:
    name = "redis"

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        prefix: str = "voice:",
        socket_timeout: float = 0.25,
        connect_timeout: float = 0.25,
        client: Any = None,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.stats = CacheStats()
        # One retry: a pooled connection broken by a Redis restart is replaced once;
        # anything beyond that is the fallback's business, not a wait for the caller.
        self._redis: Any = client or Redis.from_url(
            url,
            socket_timeout=socket_timeout,
            socket_connect_timeout=connect_timeout,
            retry=Retry(NoBackoff(), 1),
            health_check_interval=0,
        )

    async def get(self, key: str) -> bytes | None:
        try:
            value = await self._redis.get(self.prefix + key)
        except (RedisError, OSError) as exc:
            self.stats.error()
            raise CacheUnavailable(f"redis get failed: {type(exc).__name__}: {exc}") from exc
        if value is None:
            self.stats.miss()
            return None
        self.stats.hit()
        return bytes(value)

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        if ttl_seconds <= 0:
            return
        try:
            await self._redis.set(self.prefix + key, value, px=max(1, int(ttl_seconds * 1000)))
        except (RedisError, OSError) as exc:
            self.stats.error()
            raise CacheUnavailable(f"redis set failed: {type(exc).__name__}: {exc}") from exc
        self.stats.sets += 1

    def state(self) -> dict[str, object]:
        return {"backend": self.name}

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except (RedisError, OSError):
            return False

    async def close(self) -> None:
        await self._redis.aclose()
