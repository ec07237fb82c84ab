"""`RateLimiter`: budgets per user (or client address) counted with the `limits` library,
in Redis (every worker spends the same budget) or in this process's memory. Requests per
minute per route class use a moving window (exact); the cost budgets (audio seconds,
characters) a sliding window counter (two counters a key, whatever the amount).

When Redis cannot be reached the configured choice applies (allow, the default, or
deny), never an error page: one log line per interval, the count in `state()`, and
Redis is left alone for `retry_seconds` before the next try."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from enum import Enum
from urllib.parse import quote

from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter, SlidingWindowCounterRateLimiter
from limits.errors import StorageError

from voice_worker.errors import Busy, RateLimited
from voice_worker.observability import metrics
from voice_worker.ratelimit.connections import ConnectionSlots, MemorySlots, RedisSlots
from voice_worker.ratelimit.settings import RateLimitSettings, RouteClass

log = logging.getLogger(__name__)


class Resource(str, Enum):
    AUDIO_SECONDS = "audio_seconds"
    CHARACTERS = "characters"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: float
    checked: bool = True  # False: the storage was down and the request let through

    @property
    def retry_after(self) -> int:
        return max(1, math.ceil(self.reset_seconds))

    def headers(self) -> list[tuple[bytes, bytes]]:
        """OpenAI's and Venice's x-ratelimit-*-requests headers (reset in seconds)."""
        if not self.checked:
            return []
        values = {
            b"x-ratelimit-limit-requests": self.limit,
            b"x-ratelimit-remaining-requests": self.remaining,
            b"x-ratelimit-reset-requests": math.ceil(self.reset_seconds),
        }
        return [(name, str(value).encode()) for name, value in values.items()]


@dataclass
class RateLimitCounters:
    limited: int = 0  # answers refused for a spent budget
    storage_errors: int = 0
    unchecked: int = 0  # let through (or refused, with deny) because the storage was down


def storage_uri(redis_url: str) -> str:
    """`limits`' async URI of a redis:// or rediss:// URL."""
    return redis_url if redis_url.startswith("async+") else f"async+{redis_url}"


class RateLimiter:
    def __init__(self, settings: RateLimitSettings, redis_url: str = "") -> None:
        self.settings = settings
        self.shared = settings.storage == "redis"
        storage: Storage
        slots: ConnectionSlots
        if self.shared:
            timeout = settings.socket_timeout_seconds
            storage = RedisStorage(
                storage_uri(redis_url),
                implementation="redispy",
                key_prefix=settings.key_prefix,
                wrap_exceptions=True,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
            )
            slots = RedisSlots(redis_url, f"{settings.key_prefix}:connections", timeout)
        else:
            storage = MemoryStorage()
            slots = MemorySlots()
        self.storage = storage
        self.slots = slots
        self.requests = MovingWindowRateLimiter(storage)
        self.budgets = SlidingWindowCounterRateLimiter(storage)
        self.counters = RateLimitCounters()
        self._down_until = 0.0
        self._logged_at = -math.inf

    # -- the storage's health -----------------------------------------------------------
    def _storage_up(self) -> bool:
        return time.monotonic() >= self._down_until

    def storage_failed(self, exc: Exception) -> None:
        self.counters.storage_errors += 1
        metrics.RATE_LIMIT_STORAGE_ERRORS.inc()
        now = time.monotonic()
        self._down_until = now + self.settings.retry_seconds
        if now - self._logged_at >= self.settings.error_log_seconds:
            self._logged_at = now
            log.warning(
                "rate limits: storage unreachable",
                extra={
                    "error": f"{type(exc).__name__}: {str(exc)[:200]}",
                    "policy": self.settings.on_storage_error,
                    "storage_errors": self.counters.storage_errors,
                },
            )

    def _unchecked(self) -> None:
        """The storage is down: the configured choice."""
        self.counters.unchecked += 1
        if self.settings.on_storage_error == "deny":
            raise Busy(
                "rate limiting is unavailable (its storage cannot be reached); retry shortly",
                code="rate_limit_unavailable",
                retry_after=self.settings.retry_seconds,
            )

    def refused(self, budget: str) -> None:
        """A caller over `budget` (requests, audio_seconds, characters, connections)."""
        self.counters.limited += 1
        metrics.QUOTA_REFUSALS.labels(budget).inc()

    # -- requests ------------------------------------------------------------------------
    async def hit_request(self, route: RouteClass, identity: str) -> Decision | None:
        """One request of `route` by `identity`; None when the route has no limit."""
        limit = self.settings.requests.of(route)
        if limit <= 0:
            return None
        item = RateLimitItemPerMinute(limit)
        keys = (route, quote(identity, safe=""))
        if self._storage_up():
            try:
                allowed = await self.requests.hit(item, *keys)
                stats = await self.requests.get_window_stats(item, *keys)
                reset = max(0.0, stats.reset_time - time.time())
                if not allowed:
                    self.refused("requests")
                return Decision(allowed, limit, max(0, stats.remaining), reset)
            except StorageError as exc:
                self.storage_failed(exc)
        self._unchecked()
        return Decision(True, limit, limit, 0.0, checked=False)

    # -- costs ---------------------------------------------------------------------------
    def budget(self, resource: Resource) -> int:
        if resource is Resource.AUDIO_SECONDS:
            return self.settings.audio_seconds_per_minute
        return self.settings.characters_per_minute

    async def charge(self, resource: Resource, identity: str, amount: float) -> None:
        """Spend `amount` of `identity`'s budget; RateLimited when it does not fit."""
        limit = self.budget(resource)
        cost = max(1, math.ceil(amount))
        if limit <= 0:
            return
        if cost > limit:
            self.refused(resource.value)
            raise RateLimited(
                f"this request needs {cost} {_units(resource)}, more than the {limit} "
                f"allowed a minute",
                code="rate_limit_exceeded",
            )
        item = RateLimitItemPerMinute(limit)
        keys = (resource.value, quote(identity, safe=""))
        if not self._storage_up():
            self._unchecked()
            return
        try:
            if await self.budgets.hit(item, *keys, cost=cost):
                return
            stats = await self.budgets.get_window_stats(item, *keys)
        except StorageError as exc:
            self.storage_failed(exc)
            self._unchecked()
            return
        self.refused(resource.value)
        raise RateLimited(
            f"rate limit reached: {limit} {_units(resource)} a minute ({stats.remaining} "
            f"left, this request needs {cost})",
            code="rate_limit_exceeded",
            retry_after=max(1.0, stats.reset_time - time.time()),
        )

    def state(self) -> dict[str, object]:
        c = self.counters
        return {
            "storage": self.settings.storage,
            "limited": c.limited,
            "storage_errors": c.storage_errors,
            "unchecked": c.unchecked,
            "on_storage_error": self.settings.on_storage_error,
        }

    async def close(self) -> None:
        await self.slots.close()


def _units(resource: Resource) -> str:
    return "seconds of audio" if resource is Resource.AUDIO_SECONDS else "characters"
