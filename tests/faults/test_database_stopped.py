"""A private PostgreSQL (initdb in a temporary directory) stopped mid-run under turns:
turns fail with 503 and Retry-After, /readyz says the store is away, nothing is half
written; once the database is back the same worker takes turns again, and every turn
(each retried under its Idempotency-Key until answered) is stored exactly once."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import httpx
import pytest

from harness.fake_venice import FakeVenice, venice_env
from harness.postgres import PrivatePostgres
from harness.processes import Process
from harness.servers import ThreadServer, worker_process
from tests.faults.turns import Outcome, assert_whole_and_once, conversations

SESSIONS, TURNS = 8, 4
pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def test_database_stopped_mid_run(
    model_server: Process, postgres: PrivatePostgres, tmp_path: Path
) -> None:
    fake = FakeVenice()
    fake.scenario = "plain"
    with ThreadServer(fake.app) as venice:
        env = {
            "VOICE_STT__PROVIDER": "mock",
            **venice_env(f"{venice.url}/api/v1"),
            "VOICE_RESPONSE_CACHE__ENABLED": "false",
            "VOICE_DATABASE__URL": postgres.url,
            "VOICE_IDEMPOTENCY__LEASE_SECONDS": "2",
        }
        with worker_process(tmp_path, model_server.address, env) as worker:
            url = f"http://{worker.address}"
            sessions = [
                httpx.post(f"{url}/api/voice/sessions", json={}, timeout=30).json()["id"]
                for _ in range(SESSIONS)
            ]
            seen: dict[str, object] = {}
            outage = threading.Thread(target=stop_for_a_while, args=(postgres, fake, url, seen))
            outage.start()
            outcome = Outcome()
            asyncio.run(conversations(url, sessions, TURNS, outcome, timeout=120))
            outage.join()
            assert_whole_and_once(url, sessions, TURNS, outcome)
            assert worker.popen.poll() is None  # recovered without a restart
    assert outcome.statuses[503] >= 1  # turns were refused while it was away...
    assert set(outcome.statuses) <= {200, 409, 503}, outcome.statuses  # ...and nothing else
    assert outcome.retry_after_missing == 0
    ready = seen["readyz"]
    assert isinstance(ready, dict) and ready["store"]["ready"] is False
    assert "refused" in ready["store"]["detail"].lower() or "connect" in ready["store"]["detail"]


def stop_for_a_while(
    postgres: PrivatePostgres, fake: FakeVenice, url: str, seen: dict[str, object]
) -> None:
    """Stop the database once the second round is under way; start it 3 s later."""
    deadline = time.monotonic() + 60
    while len(fake.requests) < SESSIONS + 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    postgres.stop("immediate")
    try:
        ready = httpx.get(f"{url}/readyz", timeout=10)
        assert ready.status_code == 503
        seen["readyz"] = ready.json()
        time.sleep(3)
    finally:
        postgres.start()
