"""One turn at a time per session across worker processes: two turns of one session sent
at the same moment to two workers (sharing a SQLite file, or PostgreSQL) are
serialised: the second builds its prompt only once the first is stored, so it sees it.
A worker that may wait only briefly answers 409 instead, and stores nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass

import httpx
import pytest

from harness.fake_venice import FakeVenice
from harness.processes import Process
from harness.servers import worker_process
from tests.security.support import worker_env

pytestmark = pytest.mark.slow
PACED_REPLY = "The first sentence is short. The second one comes later. And a third one ends it."


@dataclass
class Pair:
    patient: str  # waits up to a minute for the session's turn
    hasty: str  # waits two seconds, then 409


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def workers(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    model_server: Process,
    venice: tuple[FakeVenice, str],
) -> Iterator[Pair]:
    directory = tmp_path_factory.mktemp(f"turns-{request.param}")
    shared = {"VOICE_DATA_DIR": str(directory / "data")}  # one SQLite file for both
    if request.param == "postgresql":
        shared = {"VOICE_DATABASE__URL": request.getfixturevalue("postgres_url")}
    with ExitStack() as stack:
        processes = [
            stack.enter_context(
                worker_process(
                    directory,
                    model_server.address,
                    worker_env(venice[1], VOICE_CHAT__TURN_WAIT_SECONDS=wait, **shared),
                )
            )
            for wait in ("60", "2")
        ]
        yield Pair(*(f"http://{p.address}" for p in processes))


def say(base: str, session: str, text: str) -> httpx.Response:
    with httpx.Client(base_url=base, timeout=60) as client:
        return client.post(f"/api/voice/sessions/{session}/text", json={"text": text})


def wait_for_requests(fake: FakeVenice, count: int) -> None:
    deadline = time.monotonic() + 30
    while len(fake.requests) < count:
        assert time.monotonic() < deadline, "the chat request never came"
        time.sleep(0.02)


def history(base: str, session: str) -> list[str]:
    reply = httpx.get(f"{base}/api/voice/sessions/{session}/messages", timeout=10)
    return [m["text"] for m in reply.json()["items"]]


def test_two_workers_take_turns_on_one_session(
    workers: Pair, venice: tuple[FakeVenice, str]
) -> None:
    fake = venice[0]
    fake.scenario, fake.requests = "paced", []
    fake.release.clear()
    created = httpx.post(f"{workers.patient}/api/voice/sessions", json={}, timeout=10)
    session = created.json()["id"]
    with ThreadPoolExecutor(2) as pool:
        # the hasty worker's turn holds the session, paused half-way by the fake
        first: Future[httpx.Response] = pool.submit(say, workers.hasty, session, "First question?")
        wait_for_requests(fake, 1)
        # the same moment, on the other worker: it must wait for the first to be stored
        second = pool.submit(say, workers.patient, session, "Second question?")
        time.sleep(1.0)  # room for a second chat request, were the turns not serialised
        assert len(fake.requests) == 1
        fake.release.set()
        assert first.result(60).status_code == 200
        assert second.result(60).status_code == 200, second.result().text
    built_from = [m["content"] for m in fake.requests[1]["messages"][1:]]
    assert built_from == ["First question?", PACED_REPLY, "Second question?"]
    assert history(workers.patient, session) == [*built_from, PACED_REPLY]

    # the other way round: the patient worker's turn holds it, the hasty one gives up
    fake.requests.clear()
    fake.release.clear()
    with ThreadPoolExecutor(1) as pool:
        third = pool.submit(say, workers.patient, session, "Third question?")
        wait_for_requests(fake, 1)
        refused = say(workers.hasty, session, "Fourth question?")
        fake.release.set()
        assert third.result(60).status_code == 200
    assert refused.status_code == 409
    assert refused.headers["retry-after"] == "1"
    error = refused.json()["error"]
    assert error["code"] == "turn_in_progress" and "in progress" in error["message"]
    assert len(fake.requests) == 1  # the refused turn never reached the chat model
    assert history(workers.hasty, session)[-2:] == ["Third question?", PACED_REPLY]
    assert "Fourth question?" not in history(workers.hasty, session)
