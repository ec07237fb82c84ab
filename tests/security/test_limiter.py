"""The rate limiter on a real Redis (a throwaway redis-server): connection slots shared
by two limiters (two workers) that run out when not renewed; the deny policy when Redis
is gone; a request bigger than the whole budget refused with a clear message."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.processes import free_port
from harness.servers import RedisServer
from voice_worker.errors import Busy, RateLimited
from voice_worker.ratelimit import connections
from voice_worker.ratelimit.limiter import RateLimiter, Resource
from voice_worker.ratelimit.meter import Meter, charge, meter_var, spend_request
from voice_worker.ratelimit.settings import RateLimitSettings


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = RedisServer(free_port(), tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


def limiter(url: str, **settings: object) -> RateLimiter:
    return RateLimiter(RateLimitSettings.model_validate({"storage": "redis", **settings}), url)


async def test_connection_slots_are_shared_and_expire(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    one, two = limiter(redis_url), limiter(redis_url)
    try:
        first = await one.slots.acquire("user:alice", 2)
        second = await two.slots.acquire("user:alice", 2)
        assert first and second
        assert await one.slots.acquire("user:alice", 2) is None  # full, across "workers"
        assert await two.slots.acquire("user:bob", 2)
        await two.slots.release("user:alice", second)
        third = await one.slots.acquire("user:alice", 2)
        assert third
        # a worker that died holding slots: its leases run out
        monkeypatch.setattr(connections, "LEASE_SECONDS", -1.0)
        await one.slots.renew("user:alice", first)
        await one.slots.renew("user:alice", third)
        monkeypatch.undo()
        assert await two.slots.acquire("user:alice", 2)
    finally:
        await one.close()
        await two.close()


async def test_a_request_larger_than_the_budget_is_refused_clearly(redis_url: str) -> None:
    limits = limiter(redis_url, key_prefix="budget-test", characters_per_minute=100)
    try:
        with pytest.raises(RateLimited, match="needs 101 characters, more than the 100"):
            await limits.charge(Resource.CHARACTERS, "user:alice", 101)
        await limits.charge(Resource.CHARACTERS, "user:alice", 60)
        with pytest.raises(RateLimited, match="100 characters a minute") as caught:
            await limits.charge(Resource.CHARACTERS, "user:alice", 60)
        assert caught.value.retry_after is not None and caught.value.retry_after >= 1
        await limits.charge(Resource.CHARACTERS, "user:bob", 60)
    finally:
        await limits.close()


async def test_without_redis_the_deny_policy_refuses_with_503() -> None:
    gone = f"redis://127.0.0.1:{free_port()}/0"
    deny = limiter(gone, on_storage_error="deny")
    allow = limiter(gone)
    try:
        with pytest.raises(Busy, match="rate limiting is unavailable"):
            await deny.hit_request("other", "user:alice")
        with pytest.raises(Busy):
            await deny.charge(Resource.AUDIO_SECONDS, "user:alice", 5)
        decision = await allow.hit_request("other", "user:alice")
        assert decision is not None and decision.allowed and not decision.checked
        assert decision.headers() == []
        await allow.charge(Resource.AUDIO_SECONDS, "user:alice", 5)
        assert allow.counters.unchecked == 2 and allow.counters.storage_errors == 1
    finally:
        await deny.close()
        await allow.close()


async def test_a_connection_spends_requests_and_costs_through_its_meter(redis_url: str) -> None:
    """What the realtime WebSocket does per event: the meter set for the connection."""
    limits = limiter(redis_url, key_prefix="meter-test", audio_seconds_per_minute=10)
    limits.settings.requests.turns = 2
    await spend_request("turns")  # no meter: nothing is counted
    token = meter_var.set(Meter(limits, "user:alice"))
    try:
        await spend_request("turns")
        await spend_request("turns")
        with pytest.raises(RateLimited, match="2 turns requests a minute") as caught:
            await spend_request("turns")
        assert caught.value.code == "rate_limit_exceeded" and caught.value.retry_after
        await charge(Resource.AUDIO_SECONDS, 6)
        with pytest.raises(RateLimited, match="seconds of audio"):
            await charge(Resource.AUDIO_SECONDS, 6)
    finally:
        meter_var.reset(token)
        await limits.close()
