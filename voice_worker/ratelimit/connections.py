"""Concurrent connections per user (a counting semaphore that every worker shares):
each open WebSocket holds a slot with a lease, renewed while it lives, so a worker that
dies without releasing its slots frees them when their leases run out. In Redis, one
sorted set per user (slot id -> lease end) updated by a Lua script, atomically; in
memory, the same in a dict. `limits` counts rates, not concurrency, hence this."""

from __future__ import annotations

import time
import uuid
from typing import Protocol
from urllib.parse import quote

import redis.asyncio as redis

LEASE_SECONDS = 60.0

# KEYS[1] the user's set; ARGV: now, lease end, slot, limit, key ttl (ms)
_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
"""


class ConnectionSlots(Protocol):
    async def acquire(self, identity: str, limit: int) -> str | None:
        """A slot id, or None when `identity` holds `limit` already."""
        ...

    async def renew(self, identity: str, slot: str) -> None: ...

    async def release(self, identity: str, slot: str) -> None: ...

    async def close(self) -> None: ...


class MemorySlots:
    def __init__(self) -> None:
        self._held: dict[str, dict[str, float]] = {}

    async def acquire(self, identity: str, limit: int) -> str | None:
        now = time.time()
        held = self._held.setdefault(identity, {})
        for slot in [s for s, end in held.items() if end <= now]:
            del held[slot]
        if len(held) >= limit:
            return None
        slot = uuid.uuid4().hex
        held[slot] = now + LEASE_SECONDS
        return slot

    async def renew(self, identity: str, slot: str) -> None:
        held = self._held.get(identity, {})
        if slot in held:
            held[slot] = time.time() + LEASE_SECONDS

    async def release(self, identity: str, slot: str) -> None:
        held = self._held.get(identity, {})
        held.pop(slot, None)
        if not held:
            self._held.pop(identity, None)

    async def close(self) -> None:
        self._held.clear()


class RedisSlots:
    def __init__(self, url: str, prefix: str, timeout: float) -> None:
        self.client = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        self.prefix = prefix
        self._acquire = self.client.register_script(_ACQUIRE)

    def _key(self, identity: str) -> str:
        return f"{self.prefix}:{quote(identity, safe='')}"

    async def acquire(self, identity: str, limit: int) -> str | None:
        now = time.time()
        slot = uuid.uuid4().hex
        ttl_ms = int(LEASE_SECONDS * 2000)
        args: list[str | int | float] = [now, now + LEASE_SECONDS, slot, limit, ttl_ms]
        taken = await self._acquire(keys=[self._key(identity)], args=args)
        return slot if int(taken) else None

    async def renew(self, identity: str, slot: str) -> None:
        key = self._key(identity)
        await self.client.zadd(key, {slot: time.time() + LEASE_SECONDS}, xx=True)
        await self.client.pexpire(key, int(LEASE_SECONDS * 2000))

    async def release(self, identity: str, slot: str) -> None:
        await self.client.zrem(self._key(identity), slot)

    async def close(self) -> None:
        await self.client.aclose()
