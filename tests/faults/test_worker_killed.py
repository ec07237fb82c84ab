"""Two workers behind the bridge (PostgreSQL store, Redis cache), 16 sessions taking
turns concurrently, one worker killed with SIGKILL mid-run, at three points of the
turns in flight: before the chat (their key claims held up by a table lock), during
synthesis (by time), during the store (their store transactions held up). Every
client asks each turn once and never retries, half with an Idempotency-Key of their
own, half with none (the bridge gives those one): 0 failed, 0 lost, 0 duplicated,
0 half. The leases are far longer than a client waits: a turn in flight on the dead
worker, sent again by the bridge, is answered in time only because the dead worker's
claims (the key's, the session's turn) were tied to its database connection and
freed the moment it died; the survivor runs the turn, or answers with what the dead
worker stored. (Without those ties this test fails: turns time out and are stored
out of order.)"""

from __future__ import annotations

import asyncio
import json
import signal
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest

from harness.bridge import start_bridge
from harness.fake_venice import FakeVenice, venice_env
from harness.postgres import PrivatePostgres
from harness.processes import Process
from harness.servers import RedisServer, ThreadServer, stop, worker_process
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
        # leases far longer than a client waits (60 s): only the database's own release
        # of a dead worker's claims lets the survivor answer its turns in time
        "VOICE_IDEMPOTENCY__LEASE_SECONDS": "90",
        "VOICE_CHAT__TURN_LEASE_SECONDS": "90",
    }


KILLED_AT: list[float] = []


@dataclass(frozen=True)
class KillPoint:
    """Where the turns in flight are when the victim dies: held there by a table lock
    the test takes before the turns start (`table`, EXCLUSIVE: reads go on, writes
    wait), or, without one, `after` seconds once half the second round's chat calls
    have arrived (each takes 1.5 s)."""

    table: str = ""
    chats: int = 0  # chat calls to wait for before the `after` seconds
    after: float = 0.0


KILL_POINTS = {
    # their keys' claims wait: nothing has run
    "before the chat": KillPoint("voice_idempotency_keys", 0, 2.0),
    # the replies are in: they are being spoken
    "during synthesis": KillPoint("", SESSIONS + SESSIONS // 2, 1.6),
    # chat and speech done, their store transactions wait
    "during the store": KillPoint("voice_chat_messages", SESSIONS, 2.5),
}


@pytest.mark.parametrize("point", KILL_POINTS.values(), ids=list(KILL_POINTS))
def test_a_worker_killed_mid_run_loses_and_repeats_nothing(
    node_modules: None,
    model_server: Process,
    postgres: PrivatePostgres,
    redis_server: RedisServer,
    tmp_path: Path,
    point: KillPoint,
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
                lock = TableLock(postgres.url, point.table) if point.table else None
                killer = threading.Thread(target=kill_mid_run, args=(fake, victim, point, lock))
                killer.start()
                outcome = Outcome()
                # every client asks each turn once; half with a key of their own, in pairs
                # (the bridge alternates workers: each gets both kinds)
                once = {s: i // 2 % 2 == 0 for i, s in enumerate(sessions)}
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
    own, none = log.count('"key":"client"'), log.count('"key":"bridge"')
    if point.table:  # every turn of the round was held on the victim: both kinds
        assert own >= 1 and none >= 1, (own, none)
    # the figures, for the record: in-flight turns retried per client kind, throughput
    killed_at = KILLED_AT[-1]
    before = [t for t in outcome.answered_at if killed_at - 5 <= t < killed_at]
    during = [t for t in outcome.answered_at if killed_at <= t < killed_at + 5]
    print(
        json.dumps(
            {
                "kill_point": asdict(point),
                "turns": len(outcome.answers),
                "failed": len(outcome.failed),
                "retried_own_key": own,
                "retried_no_key": none,
                "turns_per_s_5s_before": len(before) / 5,
                "turns_per_s_5s_after_kill": len(during) / 5,
            }
        )
    )


class TableLock:
    """A PostgreSQL table locked EXCLUSIVE (reads go on, writes wait) by the test, from
    `__init__` until `release()`."""

    def __init__(self, url: str, table: str) -> None:
        self.url, self.table = url, table
        self.locked, self.released = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=asyncio.run, args=(self._hold(),))
        self.thread.start()
        assert self.locked.wait(30), f"{table} not locked"

    async def _hold(self) -> None:
        conn = await asyncpg.connect(self.url)
        try:
            async with conn.transaction():
                await conn.execute(f"LOCK TABLE {self.table} IN EXCLUSIVE MODE")
                self.locked.set()
                await asyncio.to_thread(self.released.wait, 120)
        finally:
            await conn.close()

    def release(self) -> None:
        self.released.set()
        self.thread.join(30)


def kill_mid_run(
    fake: FakeVenice, victim: Process, point: KillPoint, lock: TableLock | None
) -> None:
    """SIGKILL the victim at `point`, then let the table go (the survivor goes on)."""
    deadline = time.monotonic() + 60
    while len(fake.requests) < point.chats and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(point.after)
    victim.popen.send_signal(signal.SIGKILL)
    KILLED_AT.append(time.monotonic())
    victim.popen.wait()
    if lock is not None:
        time.sleep(0.3)
        lock.release()


def bridge_log(directory: Path) -> str:
    (log,) = directory.glob("bridge-*.log")
    return log.name
