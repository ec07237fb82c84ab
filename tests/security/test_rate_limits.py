"""Rate limits shared across worker processes: two workers behind one Redis count one
budget per user and route class; user A over the limit through both gets 429 with
Retry-After and the x-ratelimit-*-requests headers in OpenAI's error shape, while user
B in the same second is not throttled. Audio seconds and characters are budgets too.
With Redis gone, requests are let through (the default), counted, and logged once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest

from harness.fake_venice import FakeVenice
from harness.processes import DATA, Process, free_port
from harness.servers import RedisServer, worker_process
from tests.metrics import scrape
from tests.security.support import bearer, worker_env
from voice_worker.auth.api_keys import hash_key, new_key

pytestmark = pytest.mark.slow
KEYS = {"alice": new_key(), "bob": new_key()}
REQUESTS_PER_MINUTE = 4


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(free_port(), tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def workers(
    tmp_path_factory: pytest.TempPathFactory,
    model_server: Process,
    venice: tuple[FakeVenice, str],
    redis_server: RedisServer,
) -> Iterator[list[Process]]:
    directory = tmp_path_factory.mktemp("limited")
    env = worker_env(
        venice[1],
        VOICE_AUTH__MODE="api_key",
        VOICE_AUTH__API_KEYS=json.dumps({user: hash_key(key) for user, key in KEYS.items()}),
        VOICE_RATE_LIMIT__STORAGE="redis",
        VOICE_RATE_LIMIT__REDIS_URL=redis_server.url,
        VOICE_RATE_LIMIT__REQUESTS__OTHER=str(REQUESTS_PER_MINUTE),
        VOICE_RATE_LIMIT__AUDIO_SECONDS_PER_MINUTE="15",
        VOICE_RATE_LIMIT__CHARACTERS_PER_MINUTE="40",
        VOICE_RATE_LIMIT__RETRY_SECONDS="30",
    )
    with ExitStack() as stack:
        yield [
            stack.enter_context(worker_process(directory, model_server.address, env))
            for _ in range(2)
        ]


def get(worker: Process, user: str, path: str = "/v1/models") -> httpx.Response:
    return httpx.get(f"http://{worker.address}{path}", headers=bearer(KEYS[user]), timeout=30)


def test_one_budget_across_workers_per_user(workers: list[Process]) -> None:
    one, two = workers
    seen = []
    for turn in range(REQUESTS_PER_MINUTE):
        reply = get(workers[turn % 2], "alice")
        assert reply.status_code == 200, reply.text
        assert reply.headers["x-ratelimit-limit-requests"] == str(REQUESTS_PER_MINUTE)
        seen.append(int(reply.headers["x-ratelimit-remaining-requests"]))
    assert seen == [3, 2, 1, 0]
    for worker in (one, two):
        over = get(worker, "alice")
        assert over.status_code == 429
        assert 1 <= int(over.headers["retry-after"]) <= 60
        assert over.headers["x-ratelimit-limit-requests"] == str(REQUESTS_PER_MINUTE)
        assert over.headers["x-ratelimit-remaining-requests"] == "0"
        assert 0 < int(over.headers["x-ratelimit-reset-requests"]) <= 60
        error = over.json()["error"]
        assert error["code"] == "rate_limit_exceeded" and error["type"] == "rate_limit_error"
        assert "4 other requests a minute" in error["message"]
    for worker in (one, two):  # the same second, another user: not throttled
        fresh = get(worker, "bob")
        assert fresh.status_code == 200
    assert get(one, "bob").headers["x-ratelimit-remaining-requests"] == "1"  # 3 of 4 spent
    # another route class has its own budget
    assert get(one, "alice", "/api/voice/sessions").status_code == 200


def test_audio_seconds_and_characters_are_budgets_too(workers: list[Process]) -> None:
    one, two = workers

    def transcribe(worker: Process, user: str) -> httpx.Response:
        files = {"file": ("jfk.flac", (DATA / "jfk.flac").read_bytes(), "audio/flac")}
        url = f"http://{worker.address}/v1/audio/transcriptions"
        return httpx.post(url, files=files, headers=bearer(KEYS[user]), timeout=60)

    assert transcribe(one, "alice").status_code == 200  # 11 s of the 15
    over = transcribe(two, "alice")
    assert over.status_code == 429, over.text
    assert "seconds of audio" in over.json()["error"]["message"]
    assert over.json()["error"]["code"] == "rate_limit_exceeded"
    assert int(over.headers["retry-after"]) >= 1
    assert transcribe(two, "bob").status_code == 200

    def speak(worker: Process, user: str, text: str) -> httpx.Response:
        body = {"model": "tts-1", "voice": "alloy", "input": text, "response_format": "wav"}
        url = f"http://{worker.address}/v1/audio/speech"
        return httpx.post(url, json=body, headers=bearer(KEYS[user]), timeout=60)

    thirty = "Thirty characters, give or take"[:30]
    assert speak(one, "alice", thirty).status_code == 200
    refused = speak(two, "alice", thirty)
    assert refused.status_code == 429 and "characters" in refused.json()["error"]["message"]
    assert speak(two, "bob", thirty).status_code == 200
    counted = scrape(f"http://{two.address}/metrics")  # both refusals, by budget
    assert counted.value("voice_worker_quota_refusals_total", budget="audio_seconds") == 1
    assert counted.value("voice_worker_quota_refusals_total", budget="characters") == 1


def test_without_redis_requests_go_through_counted_and_logged_once(
    workers: list[Process], redis_server: RedisServer
) -> None:
    """Last: it stops the Redis server. Alice is over her budget, but nobody can tell."""
    redis_server.stop()
    one = workers[0]
    for _ in range(5):
        reply = get(one, "alice")
        assert reply.status_code == 200, reply.text
        assert "x-ratelimit-remaining-requests" not in reply.headers
    metrics = httpx.get(f"http://{one.address}/debug/counters", timeout=10).json()["rate_limit"]
    assert metrics["storage_errors"] >= 1 and metrics["unchecked"] == 5
    assert metrics["on_storage_error"] == "allow" and metrics["storage"] == "redis"
    assert one.log().count("rate limits: storage unreachable") == 1
    scraped = scrape(f"http://{one.address}/metrics")
    assert scraped.value("voice_worker_rate_limit_storage_errors_total") >= 1
