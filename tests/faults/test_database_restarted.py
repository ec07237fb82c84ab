"""Two workers behind the bridge (a private PostgreSQL store, Redis cache), 8 sessions
taking turns concurrently, and the database restarted (`pg_ctl stop -m fast`, 3 s
away, `pg_ctl start`) while turns are in flight on both workers: their advisory locks
(the keys' claims, the sessions' turn locks) go with the server, and the rows of the
claims outlive it. Half the clients send an Idempotency-Key of their own, half none
(the bridge gives those one). While the database is away the documented answer is a
503 with Retry-After (a key's claim still in flight: a 409 with Retry-After); a client
waits what the header says and asks again, the keyed ones with the same key, the
keyless ones with none again (a fresh bridge key: nothing was stored under a 503).
Anything else (a 5xx other than 503, a 4xx, a transport error) is a failed turn.
Afterwards: 0 failed, 0 lost, 0 duplicated, 0 half; every 503 said when to retry;
both workers are the same processes; and a turn on every session (each had its turn
lock held when the database went) is answered at once, far inside the leases (90 s):
the lock connection came back and the claims of the old server are not waited out."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path

import httpx
import pytest

from harness.bridge import start_bridge
from harness.fake_venice import FakeVenice
from harness.postgres import PrivatePostgres
from harness.processes import Process
from harness.servers import RedisServer, ThreadServer, stop, worker_process
from tests.faults.test_worker_killed import worker_env
from tests.faults.turns import Outcome, ask_once, assert_whole_and_once

SESSIONS, TURNS = 8, 3
RETRIED = frozenset({409, 503})  # the documented "not now": both carry Retry-After
pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def test_database_restarted_under_turns_through_two_workers(
    node_modules: None,
    model_server: Process,
    postgres: PrivatePostgres,
    redis_server: RedisServer,
    tmp_path: Path,
) -> None:
    fake = FakeVenice()
    fake.scenario = "slow"  # each reply takes 1.5 s: turns hold their locks when it goes
    with ThreadServer(fake.app) as venice:
        env = worker_env(venice.url, postgres, redis_server)
        with (
            worker_process(tmp_path, model_server.address, env) as first,
            worker_process(tmp_path, model_server.address, env) as second,
        ):
            bridge, url = start_bridge(
                tmp_path, [f"http://{first.address}", f"http://{second.address}"]
            )
            try:
                sessions = [
                    httpx.post(f"{url}/api/voice/sessions", json={}, timeout=30).json()["id"]
                    for _ in range(SESSIONS)
                ]
                keyed = {s: i // 2 % 2 == 0 for i, s in enumerate(sessions)}
                restart = threading.Thread(target=restart_mid_round, args=(postgres, fake))
                began = time.monotonic()
                restart.start()
                outcome = Outcome()
                asyncio.run(talk(url, sessions, range(TURNS), keyed, outcome, timeout=50))
                restart.join()
                assert RESTARTED and postgres.running(), "the database was not restarted"
                # every session had its turn lock held when the database went: one more
                # turn each, answered far inside the 90 s leases
                after = time.monotonic()
                asyncio.run(talk(url, sessions, [TURNS], keyed, outcome, timeout=20))
                recovered_in = time.monotonic() - after
                assert_whole_and_once(url, sessions, TURNS + 1, outcome)
                assert first.popen.poll() is None and second.popen.poll() is None
            finally:
                stop(bridge)
    assert outcome.failed == [], outcome.failed
    assert len(outcome.answers) == SESSIONS * (TURNS + 1)
    assert set(outcome.statuses) <= {200, *RETRIED}, outcome.statuses
    assert outcome.statuses[503] >= 1, "no turn met the outage"
    assert outcome.retry_after_missing == 0
    assert recovered_in < 15, f"turns after the restart took {recovered_in:.1f} s"
    assert time.monotonic() - began < 60
    print(json.dumps({"statuses": dict(outcome.statuses), "recovered_in_s": recovered_in}))


RESTARTED: list[float] = []


def restart_mid_round(postgres: PrivatePostgres, fake: FakeVenice) -> None:
    """Once half the second round's chat calls are in, stop the database (fast:
    its clients are cut off), and start it again 3 s later."""
    deadline = time.monotonic() + 40
    while len(fake.requests) < SESSIONS + SESSIONS // 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    postgres.stop("fast")
    try:
        time.sleep(3)
    finally:
        postgres.start()
        RESTARTED.append(time.monotonic())


async def talk(
    url: str,
    sessions: list[str],
    turns: range | list[int],
    keyed: dict[str, bool],
    outcome: Outcome,
    timeout: float,
) -> None:
    """Each session takes `turns` in order, the sessions concurrently."""
    deadline = time.monotonic() + timeout
    limits = httpx.Limits(max_connections=len(sessions) * 2)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:

        async def one(session: str) -> None:
            for i in turns:
                text = f"Turn {i} of {session[:8]}."
                await ask_once(client, session, text, outcome, keyed[session], RETRIED, deadline)

        await asyncio.gather(*(one(s) for s in sessions))
