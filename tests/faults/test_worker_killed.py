"""Two workers behind the bridge (PostgreSQL store, Redis cache), 16 sessions taking
turns concurrently, one worker killed with SIGKILL mid-run: no half turns in the
store, every answered turn stored, and with Idempotency-Keys and the bridge's one
retry every turn answered exactly once (a turn in flight on the dead worker is sent
to the other by the bridge, which waits out the dead one's lease with 409s, then
runs or replays it)."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from harness.fake_venice import FakeVenice, venice_env
from harness.postgres import PrivatePostgres
from harness.processes import Process
from harness.servers import RedisServer, ThreadServer, stop, worker_process
from tests.deploy.test_bridge import start_bridge
from tests.faults.turns import Outcome, assert_whole_and_once, conversations

SESSIONS, TURNS = 16, 3
pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def worker_env(venice: str, postgres: PrivatePostgres, redis: RedisServer) -> dict[str, str]:
    return {
        "VOICE_STT__PROVIDER": "mock",
        **venice_env(f"{venice}/api/v1"),
        "VOICE_RESPONSE_CACHE__ENABLED": "false",
        "VOICE_DATABASE__URL": postgres.url,
        "VOICE_DATABASE__POOL_SIZE": "20",
        "VOICE_CACHE__BACKEND": "redis",
        "VOICE_CACHE__REDIS_URL": redis.url,
        "VOICE_CACHE__KEY_PREFIX": f"fault-{uuid.uuid4().hex[:8]}:",
        "VOICE_IDEMPOTENCY__LEASE_SECONDS": "2",
    }


def test_a_worker_killed_mid_run_loses_and_repeats_nothing(
    node_modules: None,
    model_server: Process,
    postgres: PrivatePostgres,
    redis_server: RedisServer,
    tmp_path: Path,
) -> None:
    fake = FakeVenice()
    fake.scenario = "slow"  # each reply takes 1.5 s: turns are in flight when it dies
    with ThreadServer(fake.app) as venice:
        env = worker_env(venice.url, postgres, redis_server)
        with (
            worker_process(tmp_path, model_server.address, env) as victim,
            worker_process(tmp_path, model_server.address, env) as survivor,
        ):
            bridge, url = start_bridge(
                tmp_path, [f"http://{victim.address}", f"http://{survivor.address}"]
            )
            try:
                sessions = [
                    httpx.post(f"{url}/api/voice/sessions", json={}, timeout=30).json()["id"]
                    for _ in range(SESSIONS)
                ]
                killer = threading.Thread(target=kill_mid_run, args=(fake, victim))
                killer.start()
                outcome = Outcome()
                asyncio.run(conversations(url, sessions, TURNS, outcome, timeout=150))
                killer.join()
                assert victim.popen.returncode == -signal.SIGKILL
                assert_whole_and_once(f"http://{survivor.address}", sessions, TURNS, outcome)
                retried = (tmp_path / bridge_log(tmp_path)).read_text().count("retrying on")
            finally:
                stop(bridge)
    assert len(outcome.answers) == SESSIONS * TURNS
    assert retried >= 1, "no turn was in flight on the killed worker"
    assert outcome.statuses[502] == 0  # a keyed turn cut by the kill was retried, not lost
    assert outcome.retry_after_missing == 0


def kill_mid_run(fake: FakeVenice, victim: Process) -> None:
    """SIGKILL the victim once the second round of turns is in flight."""
    deadline = time.monotonic() + 60
    while len(fake.requests) < SESSIONS + SESSIONS // 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    victim.popen.send_signal(signal.SIGKILL)
    victim.popen.wait()


def bridge_log(directory: Path) -> str:
    (log,) = directory.glob("bridge-*.log")
    return log.name
