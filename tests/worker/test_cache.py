"""The cache backends on their own: in-memory TTL+LRU, Redis (the machine's Redis on
6379, database 11, a unique prefix, cleaned up), the fallback, single flight."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from harness.processes import free_port
from shared.cache.base import ByteCache, cache_key
from shared.cache.fallback import FallbackCache
from shared.cache.memory import MemoryCache
from shared.cache.redis_cache import CacheUnavailable, RedisCache
from shared.cache.singleflight import SingleFlight

SHARED_REDIS = "redis://127.0.0.1:6379/11"


async def test_memory_ttl_and_lru() -> None:
    cache = MemoryCache(max_entries=2)
    assert isinstance(cache, ByteCache)
    await cache.set("a", b"1", 60)
    await cache.set("b", b"2", 60)
    assert await cache.get("a") == b"1"  # a is now the most recent
    await cache.set("c", b"3", 60)  # evicts b
    assert await cache.get("b") is None
    assert await cache.get("a") == b"1"
    await cache.set("short", b"x", 0.05)
    await asyncio.sleep(0.08)
    assert await cache.get("short") is None
    assert (cache.stats.hits, cache.stats.misses) == (2, 2)
    assert len(cache) == 1  # "short" evicted "c", then expired


async def test_memory_byte_budget() -> None:
    cache = MemoryCache(max_entries=100, max_bytes=10)
    for i in range(5):
        await cache.set(str(i), b"abcd", 60)
    assert cache.size_bytes <= 10
    assert await cache.get("4") == b"abcd"
    assert await cache.get("0") is None


def test_key_covers_every_part() -> None:
    base = {"text": "hi", "voice": "a", "format": "mp3", "speed": 1.0, "sample_rate": 0}
    key = cache_key("tts", **base)
    for part, other in [("text", "ho"), ("voice", "b"), ("format", "wav"), ("speed", 1.5)]:
        assert cache_key("tts", **{**base, part: other}) != key
    assert cache_key("tts", **dict(reversed(base.items()))) == key


@pytest.fixture
async def shared_redis() -> AsyncIterator[RedisCache]:
    prefix = f"test-worker-{uuid.uuid4().hex}:"
    cache = RedisCache(SHARED_REDIS, prefix)
    if not await cache.ping():
        pytest.skip("no Redis on 127.0.0.1:6379")
    yield cache
    raw = aioredis.Redis.from_url(SHARED_REDIS)
    keys = [key async for key in raw.scan_iter(match=f"{prefix}*")]
    if keys:
        await raw.delete(*keys)
    await raw.aclose()
    await cache.close()


async def test_redis_round_trip_with_ttl(shared_redis: RedisCache) -> None:
    assert isinstance(shared_redis, ByteCache)
    await shared_redis.set("k", b"\x00audio\xff", 30)
    assert await shared_redis.get("k") == b"\x00audio\xff"
    assert await shared_redis.get("missing") is None
    raw = aioredis.Redis.from_url(SHARED_REDIS)
    ttl_ms = await raw.pttl(f"{shared_redis.prefix}k")
    await raw.aclose()
    assert 0 < ttl_ms <= 30_000
    assert (shared_redis.stats.hits, shared_redis.stats.misses) == (1, 1)


async def test_redis_down_raises_quickly() -> None:
    cache = RedisCache(f"redis://127.0.0.1:{free_port()}/0", "x:")
    start = time.monotonic()
    with pytest.raises(CacheUnavailable):
        await cache.get("k")
    assert time.monotonic() - start < 1.0
    assert cache.stats.errors == 1
    await cache.close()


async def test_fallback_serves_from_memory_and_backs_off() -> None:
    redis = RedisCache(f"redis://127.0.0.1:{free_port()}/0", "x:")
    cache = FallbackCache(redis, MemoryCache(10), backoff_min=5.0, backoff_max=5.0)
    await cache.set("k", b"v", 60)
    assert await cache.get("k") == b"v"
    assert not cache.primary_available
    assert redis.stats.errors == 1  # the get was not even tried: backing off
    state = cache.state()
    assert state["hits"] == 1
    assert state["redis"]["available"] is False  # type: ignore[index]
    await cache.close()


async def test_single_flight_shares_one_producer() -> None:
    flights = SingleFlight()
    runs = 0

    async def produce() -> AsyncIterator[bytes]:
        nonlocal runs
        runs += 1
        for part in (b"a", b"b", b"c"):
            await asyncio.sleep(0.01)
            yield part

    stored: list[bytes] = []

    async def store(data: bytes) -> None:
        stored.append(data)

    readers = [flights.join("k", produce, store) for _ in range(5)]
    results = await asyncio.gather(*(flight.whole() for flight in readers))
    assert results == [b"abc"] * 5
    assert runs == 1
    assert flights.joined == 4
    assert stored == [b"abc"]


async def test_single_flight_error_reaches_every_reader() -> None:
    flights = SingleFlight()

    async def fail() -> AsyncIterator[bytes]:
        await asyncio.sleep(0.01)
        raise ValueError("boom")
        yield b""  # pragma: no cover

    readers = [flights.join("k", fail) for _ in range(3)]
    for flight in readers:
        with pytest.raises(ValueError, match="boom"):
            await flight.first()
    assert not flights._flights  # a failed flight is not kept


async def test_slow_redis_times_out_to_memory() -> None:
    """A Redis that accepts connections but never answers: short socket timeouts, then
    the memory cache; the caller waits well under a second."""

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(-1)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    redis = RedisCache(f"redis://127.0.0.1:{port}/0", "x:", socket_timeout=0.1)
    cache = FallbackCache(redis, MemoryCache(10), backoff_min=5.0)
    try:
        start = time.monotonic()
        await cache.set("k", b"v", 60)
        assert await cache.get("k") == b"v"
        assert time.monotonic() - start < 1.0
        assert cache.state()["errors"] == 1
        assert "Timeout" in cache.last_error
    finally:
        server.close()
        await cache.close()
