"""Two workers behind the bridge (PostgreSQL store, Redis cache), 16 sessions taking
turns concurrently, one worker killed with SIGKILL mid-run, at a point of the turns
in flight (during the chat; after it: synthesis and the store): no half turns in the
store, every turn stored once, and every turn answered exactly once to clients that
ask once and never retry, half of them with an Idempotency-Key of their own, half
with none (the bridge gives those one). A turn in flight on the dead worker is sent
to the other by the bridge; the dead worker's claims (the key's, the session's turn)
were tied to its database connection, so they are free at once: the survivor runs
the turn, or answers with what the dead worker stored."""

from __future__ import annotations

import asyncio
import json
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


#: when the victim dies, after half the second round's chat calls have arrived: while
#: they are answered (1.5 s each), or as their replies are spoken and stored
KILLED_AT: list[float] = []
KILL_POINTS = {"during the chat": 0.5, "during synthesis and the store": 1.6}


@pytest.mark.parametrize("kill_after", KILL_POINTS.values(), ids=list(KILL_POINTS))
def test_a_worker_killed_mid_run_loses_and_repeats_nothing(
    node_modules: None,
    model_server: Process,
    postgres: PrivatePostgres,
    redis_server: RedisServer,
    tmp_path: Path,
    kill_after: float,
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
                killer = threading.Thread(target=kill_mid_run, args=(fake, victim, kill_after))
                killer.start()
                outcome = Outcome()
                # every client asks each turn once; even sessions with a key of their own
                once = {s: i % 2 == 0 for i, s in enumerate(sessions)}
                asyncio.run(conversations(url, sessions, TURNS, outcome, timeout=150, once=once))
                killer.join()
                assert victim.popen.returncode == -signal.SIGKILL
                assert_whole_and_once(f"http://{survivor.address}", sessions, TURNS, outcome)
                log = (tmp_path / bridge_log(tmp_path)).read_text()
                retried = log.count("retrying on")
            finally:
                stop(bridge)
    assert outcome.failed == [], outcome.failed  # 0 failed, whoever the client
    assert len(outcome.answers) == SESSIONS * TURNS == outcome.attempts
    assert retried >= 1, "no turn was in flight on the killed worker"
    assert outcome.statuses[502] == 0 and outcome.statuses[409] == 0
    # the figures, for the record: in-flight turns retried per client kind, throughput
    killed_at = KILLED_AT[-1]
    before = [t for t in outcome.answered_at if killed_at - 5 <= t < killed_at]
    during = [t for t in outcome.answered_at if killed_at <= t < killed_at + 5]
    print(
        json.dumps(
            {
                "kill_after_s": kill_after,
                "turns": len(outcome.answers),
                "failed": len(outcome.failed),
                "retried_own_key": log.count('"key":"client"'),
                "retried_no_key": log.count('"key":"bridge"'),
                "turns_per_s_5s_before": len(before) / 5,
                "turns_per_s_5s_after_kill": len(during) / 5,
            }
        )
    )


def kill_mid_run(fake: FakeVenice, victim: Process, after: float) -> None:
    """SIGKILL the victim `after` seconds once the second round of turns is in flight."""
    deadline = time.monotonic() + 60
    while len(fake.requests) < SESSIONS + SESSIONS // 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(after)
    victim.popen.send_signal(signal.SIGKILL)
    KILLED_AT.append(time.monotonic())
    victim.popen.wait()


def bridge_log(directory: Path) -> str:
    (log,) = directory.glob("bridge-*.log")
    return log.name
