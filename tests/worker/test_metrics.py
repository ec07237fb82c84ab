"""`GET /metrics` of a worker with two processes: Prometheus' text format, every
process's counts in each scrape (whichever process answers it), request counts by
route template and status, turn stage histograms, cache lookups, upstream errors by
provider, upload rejections; the JSON counters at /debug/counters."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from harness.fake_venice import FakeVenice, venice_env
from harness.processes import Process
from harness.servers import ThreadServer, worker_process
from tests.metrics import Scrape, scrape

SESSIONS = "/api/voice/sessions"
TEXT_TURN = "/api/voice/sessions/{session_id}/text"


@pytest.fixture(scope="module")
def two_processes(
    tmp_path_factory: pytest.TempPathFactory, model_server: Process
) -> Iterator[tuple[str, FakeVenice]]:
    fake = FakeVenice()
    fake.scenario = "plain"
    with ThreadServer(fake.app) as venice:
        env = {
            "VOICE_HTTP_WORKERS": "2",
            "VOICE_STT__PROVIDER": "mock",
            **venice_env(f"{venice.url}/api/v1"),
            "VOICE_CHAT__MAX_RETRIES": "0",
        }
        directory = tmp_path_factory.mktemp("metrics-worker")
        with worker_process(directory, model_server.address, env) as worker:
            yield f"http://{worker.address}", fake


def test_every_process_is_in_every_scrape(two_processes: tuple[str, FakeVenice]) -> None:
    url, _ = two_processes
    metrics = f"{url}/metrics"
    healthz = {"method": "GET", "route": "/healthz", "status": "200"}
    sent = int(scrape(metrics).value("voice_worker_http_requests_total", **healthz))
    for _ in range(200):  # new connections until both processes have answered some
        assert httpx.get(f"{url}/healthz").status_code == 200
        sent += 1
        pids = scrape(metrics).samples
        answered = {
            s.labels["pid"]
            for s in pids
            if s.name == "voice_worker_process_resident_memory_bytes" and s.value > 0
        }
        if len(answered) == 2 and sent >= 20:
            break
    assert len(answered) == 2, "both worker processes should have answered"
    for _ in range(6):  # whichever process answers, the count is the whole
        current = scrape(metrics)
        assert current.value("voice_worker_http_requests_total", **healthz) == sent
        assert (
            current.value(
                "voice_worker_http_request_duration_seconds_count", method="GET", route="/healthz"
            )
            == sent
        )


def test_routes_turns_caches_and_errors(two_processes: tuple[str, FakeVenice]) -> None:
    url, fake = two_processes
    before = scrape(f"{url}/metrics")
    with httpx.Client(base_url=url, timeout=60) as http:
        session = http.post(SESSIONS, json={}).json()["id"]
        fake.scenario = "plain"
        turn = http.post(f"{SESSIONS}/{session}/text", json={"text": "Hello there."})
        assert turn.status_code == 200, turn.text
        assert http.get("/no/such/path").status_code == 404
        speech = {"model": "tts-1", "voice": "alloy", "input": "Metrics count this twice."}
        assert http.post("/v1/audio/speech", json=speech).headers["x-cache"] == "miss"
        assert http.post("/v1/audio/speech", json=speech).headers["x-cache"] == "hit"
        empty = http.post(
            "/v1/audio/transcriptions", files={"file": ("a.wav", b"")}, data={"model": "whisper-1"}
        )
        assert empty.status_code == 400
        fake.scenario = "503"
        failed = http.post(f"{SESSIONS}/{session}/text", json={"text": "And now?"})
        fake.scenario = "plain"
        assert failed.status_code == 503
        counters = http.get("/debug/counters").json()
        assert {"speech", "transcription", "cache"} <= set(counters)
    after = scrape(f"{url}/metrics")

    def delta(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    requests = "voice_worker_http_requests_total"
    assert delta(requests, method="POST", route=SESSIONS, status="201") == 1
    assert delta(requests, method="POST", route=TEXT_TURN, status="200") == 1
    assert delta(requests, method="POST", route=TEXT_TURN, status="503") == 1
    assert delta(requests, method="GET", route="unmatched", status="404") == 1
    assert session not in str(after.label_values(requests, "route"))  # templates only
    for stage in ("chat_first_token", "chat", "first_audio", "tts", "store", "total"):
        assert delta("voice_worker_turn_stage_seconds_count", stage=stage) == 1, stage
    assert delta("voice_worker_turn_stage_seconds_count", stage="stt") == 0  # typed
    assert delta("voice_worker_turns_total", input="text", cached="false") == 1
    lookups = "voice_cache_lookups_total"
    assert delta(lookups, cache="audio", result="hit") >= 1
    assert delta(lookups, cache="audio", result="miss") >= 1
    assert delta(lookups, cache="chat_reply", result="miss") == 2  # both turns asked
    assert delta("voice_worker_upload_rejections_total", reason="empty_file") == 1
    upstream = "voice_worker_upstream_errors_total"
    assert delta(upstream, provider="chat (venice)", status="503") == 1
    assert after.has("voice_worker_http_requests_in_progress")
    assert_bounded_labels(after, session)


def assert_bounded_labels(metrics: Scrape, session: str) -> None:
    """No sample carries a session id, a text or a path that is not a template."""
    for sample in metrics.samples:
        for value in sample.labels.values():
            assert session not in value
            assert "Hello" not in value and "Metrics count" not in value
