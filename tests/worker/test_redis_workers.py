"""Two worker processes on one Redis (a throwaway redis-server on a free port, never
the machine's own): a miss on one is a hit on the other; with Redis stopped requests
still succeed; with Redis back, shared hits resume."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness.processes import Process, free_port
from harness.servers import RedisServer, worker_process


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(free_port(), tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def two_workers(
    tmp_path_factory: pytest.TempPathFactory, model_server: Process, redis_server: RedisServer
) -> Iterator[tuple[str, str]]:
    env = {
        "VOICE_STT__PROVIDER": "mock",
        "VOICE_CACHE__BACKEND": "redis",
        "VOICE_CACHE__REDIS_URL": redis_server.url,
        "VOICE_CACHE__KEY_PREFIX": f"test-{uuid.uuid4().hex[:8]}:",
        "VOICE_CACHE__RETRY_MIN_SECONDS": "0.2",
        "VOICE_CACHE__RETRY_MAX_SECONDS": "0.4",
    }
    tmp: Path = tmp_path_factory.mktemp("workers")
    with (
        worker_process(tmp, model_server.address, env) as a,
        worker_process(tmp, model_server.address, env) as b,
    ):
        yield f"http://{a.address}", f"http://{b.address}"


def speak(url: str, text: str) -> httpx.Response:
    body = {"model": "tts-1", "voice": "alloy", "input": text, "response_format": "mp3"}
    response = httpx.post(f"{url}/v1/audio/speech", json=body, timeout=60)
    assert response.status_code == 200, response.text
    return response


def redis_state(url: str) -> dict[str, object]:
    state: dict[str, object] = httpx.get(f"{url}/debug/counters").json()["cache"]["redis"]
    return state


def test_miss_on_one_worker_is_a_hit_on_the_other(two_workers: tuple[str, str]) -> None:
    a, b = two_workers
    text = f"Shared between workers {uuid.uuid4().hex[:6]}."
    first = speak(a, text)
    assert first.headers["x-cache"] == "miss"
    hits_before = redis_state(b)["hits"]
    second = speak(b, text)
    assert second.headers["x-cache"] == "hit"
    assert second.content == first.content
    assert redis_state(b)["hits"] == hits_before + 1  # type: ignore[operator]
    ready = httpx.get(f"{b}/readyz").json()
    assert ready["cache"]["backend"] == "redis+memory"
    assert ready["cache"]["redis"]["available"] is True


def test_redis_down_then_back(two_workers: tuple[str, str], redis_server: RedisServer) -> None:
    a, b = two_workers
    redis_server.stop()
    try:
        text = f"Redis is down {uuid.uuid4().hex[:6]}."
        start = time.monotonic()
        assert speak(a, text).headers["x-cache"] == "miss"
        assert speak(a, text).headers["x-cache"] == "hit"  # from memory
        assert speak(b, text).headers["x-cache"] == "miss"  # nothing shared now
        assert time.monotonic() - start < 10
        state = redis_state(a)
        assert state["available"] is False
        assert state["errors"] >= 1  # type: ignore[operator]
        assert "redis" in str(state["last_error"]).lower()
    finally:
        redis_server.start()
    time.sleep(0.6)  # past the retry backoff
    text = f"Redis is back {uuid.uuid4().hex[:6]}."
    assert speak(a, text).headers["x-cache"] == "miss"
    assert speak(b, text).headers["x-cache"] == "hit"
    assert redis_state(a)["available"] is True
    assert redis_state(b)["available"] is True
