"""Redis stopped and started under load, two workers sharing it: every request still
succeeds (the caches fall back to each worker's memory; the worker's only limits, on
work admitted per process, never depend on Redis), the failures are counted in the
metrics, and once Redis is back both workers share it again."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest

from harness.processes import Process
from harness.servers import RedisServer, worker_process
from tests.metrics import scrape

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]
TEXTS = [f"Cached sentence number {i}." for i in range(6)]


async def load(urls: list[str], statuses: Counter[int], stop: asyncio.Event) -> None:
    async with httpx.AsyncClient(timeout=60) as client:

        async def speak(url: str, offset: int) -> None:
            count = offset
            while not stop.is_set():
                body = {"text": TEXTS[count % len(TEXTS)], "format": "mp3"}
                statuses[(await client.post(f"{url}/api/voice/tts", json=body)).status_code] += 1
                count += 1

        await asyncio.gather(*(speak(url, n) for n in range(3) for url in urls))


def redis_available(url: str) -> bool:
    state = httpx.get(f"{url}/debug/counters", timeout=10).json()["cache"]["redis"]
    return bool(state["available"])


async def scenario(urls: list[str], redis: RedisServer) -> Counter[int]:
    statuses: Counter[int] = Counter()
    stop = asyncio.Event()
    clients = asyncio.create_task(load(urls, statuses, stop))
    try:
        await asyncio.sleep(1.5)
        await asyncio.to_thread(redis.stop)
        await asyncio.sleep(2.0)  # under load with Redis away
        assert not any(redis_available(url) for url in urls)
        await asyncio.to_thread(redis.start)
        deadline = time.monotonic() + 20
        while not all(redis_available(url) for url in urls):  # back after the backoff
            assert time.monotonic() < deadline, "the workers did not go back to Redis"
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)
    finally:
        stop.set()
        await clients
    return statuses


def test_redis_away_under_load_costs_no_request(
    model_server: Process, redis_server: RedisServer, tmp_path: Path
) -> None:
    env = {
        "VOICE_STT__PROVIDER": "mock",
        "VOICE_CACHE__BACKEND": "redis",
        "VOICE_CACHE__REDIS_URL": redis_server.url,
        "VOICE_CACHE__KEY_PREFIX": f"fault-{uuid.uuid4().hex[:8]}:",
        "VOICE_CACHE__RETRY_MIN_SECONDS": "0.2",
        "VOICE_CACHE__RETRY_MAX_SECONDS": "1",
    }
    with (
        worker_process(tmp_path, model_server.address, env) as a,
        worker_process(tmp_path, model_server.address, env) as b,
    ):
        urls = [f"http://{a.address}", f"http://{b.address}"]
        statuses = asyncio.run(scenario(urls, redis_server))
        assert set(statuses) == {200}, statuses  # not one request failed
        assert sum(statuses.values()) > 20
        errors = sum(scrape(f"{u}/metrics").value("voice_cache_errors_total") for u in urls)
        assert errors >= 1
        text = f"Shared again {uuid.uuid4().hex[:6]}."
        body = {"text": text, "format": "mp3"}
        assert (
            httpx.post(f"{urls[0]}/api/voice/tts", json=body, timeout=60).headers["x-cache"]
            == "miss"
        )
        assert (
            httpx.post(f"{urls[1]}/api/voice/tts", json=body, timeout=60).headers["x-cache"]
            == "hit"
        )
