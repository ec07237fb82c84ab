"""Idempotency-Key on a real worker: a repeated turn or session creation returns the
stored result (Idempotent-Replayed: true) and stores nothing more; sent while the
first still runs, it waits for the first and gets its result; 422 for another
request under the same key; a streamed turn's repeat replays its events at once; a
failed turn's key runs anew."""

from __future__ import annotations

import base64
import concurrent.futures
import json
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from harness.fake_venice import FakeVenice, venice_env
from harness.processes import Process
from harness.servers import ThreadServer, worker_process

SESSIONS = "/api/voice/sessions"


@pytest.fixture(scope="module")
def worker_and_fake(
    tmp_path_factory: pytest.TempPathFactory, model_server: Process
) -> Iterator[tuple[httpx.Client, FakeVenice]]:
    fake = FakeVenice()
    fake.scenario = "plain"
    with ThreadServer(fake.app) as venice:
        env = {
            "VOICE_STT__PROVIDER": "mock",
            **venice_env(f"{venice.url}/api/v1"),
            "VOICE_CHAT__MAX_RETRIES": "0",
            "VOICE_RESPONSE_CACHE__ENABLED": "false",
            "VOICE_IDEMPOTENCY__LEASE_SECONDS": "2",
        }
        directory = tmp_path_factory.mktemp("idempotent-worker")
        with (
            worker_process(directory, model_server.address, env) as worker,
            httpx.Client(base_url=f"http://{worker.address}", timeout=60) as client,
        ):
            yield client, fake


def key() -> dict[str, str]:
    return {"Idempotency-Key": f"test-{uuid.uuid4()}"}


def messages(client: httpx.Client, session: str) -> list[dict[str, object]]:
    items: list[dict[str, object]] = client.get(f"{SESSIONS}/{session}/messages").json()["items"]
    return items


def test_a_repeated_turn_is_the_stored_one(
    worker_and_fake: tuple[httpx.Client, FakeVenice],
) -> None:
    client, fake = worker_and_fake
    fake.scenario = "plain"
    session = client.post(SESSIONS, json={}).json()["id"]
    headers = key()
    first = client.post(f"{SESSIONS}/{session}/text", json={"text": "Hi!"}, headers=headers)
    assert first.status_code == 200, first.text
    assert "idempotent-replayed" not in first.headers
    asked = len(fake.requests)
    again = client.post(f"{SESSIONS}/{session}/text", json={"text": "Hi!"}, headers=headers)
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    a, b = first.json(), again.json()
    for field in ("reply_text", "audio_base64", "user_message_id", "assistant_message_id"):
        assert a[field] == b[field], field
    assert base64.b64decode(b["audio_base64"])
    assert len(fake.requests) == asked  # the chat model was not asked again
    assert [m["role"] for m in messages(client, session)] == ["user", "assistant"]
    other = client.post(f"{SESSIONS}/{session}/text", json={"text": "Bye!"}, headers=headers)
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    audio = client.post(
        f"{SESSIONS}/{session}/text",
        json={"text": "Hi!"},
        headers={**headers, "accept": "audio/mpeg"},
    )
    assert audio.content == base64.b64decode(a["audio_base64"])  # any rendering of it
    assert len(messages(client, session)) == 2


def test_a_repeat_in_progress_waits_for_the_result_and_a_streamed_repeat_replays(
    worker_and_fake: tuple[httpx.Client, FakeVenice],
) -> None:
    client, fake = worker_and_fake
    session = client.post(SESSIONS, json={}).json()["id"]
    headers = key()
    fake.scenario = "paced"
    fake.release.clear()
    url = f"{SESSIONS}/{session}/text"
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        first = pool.submit(client.post, url, json={"text": "Go on."}, headers=headers)
        deadline = time.monotonic() + 30
        while not fake.requests or fake.requests[-1]["messages"][-1]["content"] != "Go on.":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        time.sleep(2.5)  # past one lease: the running turn renews its key
        repeat = pool.submit(client.post, url, json={"text": "Go on."}, headers=headers)
        time.sleep(1.0)
        assert not repeat.done()  # no 409: it waits for the turn it repeats
        fake.release.set()
        done = first.result(timeout=60)
        again = repeat.result(timeout=60)
    assert again.status_code == 200, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["assistant_message_id"] == done.json()["assistant_message_id"]
    assert done.status_code == 200, done.text
    fake.scenario = "plain"
    with client.stream("POST", url, json={"text": "Go on."},
                       headers={**headers, "accept": "text/event-stream"}) as stream:  # fmt: skip
        assert stream.headers["idempotent-replayed"] == "true"
        events = [json.loads(line[6:]) for line in stream.iter_lines() if line.startswith("data: ")]
    kinds = [e["type"] for e in events]
    assert kinds == ["reply.delta", "audio.delta", "done"]
    assert events[0]["text"] == done.json()["reply_text"]
    assert events[-1]["assistant_message_id"] == done.json()["assistant_message_id"]
    assert len(messages(client, session)) == 2


def test_a_failed_turn_runs_again_and_sessions_are_created_once(
    worker_and_fake: tuple[httpx.Client, FakeVenice],
) -> None:
    client, fake = worker_and_fake
    headers = key()
    created = client.post(SESSIONS, json={"title": "once"}, headers=headers)
    repeat = client.post(SESSIONS, json={"title": "once"}, headers=headers)
    assert created.status_code == repeat.status_code == 201
    assert repeat.headers["idempotent-replayed"] == "true"
    assert created.json() == repeat.json()
    assert client.post(SESSIONS, json={"title": "twice"}, headers=headers).status_code == 422
    session = created.json()["id"]
    turn_key = key()
    fake.scenario = "503"
    failed = client.post(f"{SESSIONS}/{session}/text", json={"text": "Hm?"}, headers=turn_key)
    assert failed.status_code == 503
    fake.scenario = "plain"
    ran = client.post(f"{SESSIONS}/{session}/text", json={"text": "Hm?"}, headers=turn_key)
    assert ran.status_code == 200 and "idempotent-replayed" not in ran.headers
    spoken = client.post(
        f"{SESSIONS}/{session}/messages",
        files={"audio": ("a.wav", b"RIFF....", "audio/wav")},
        headers=turn_key,
    )
    assert spoken.status_code == 422  # a spoken turn is another request
    assert len(messages(client, session)) == 2


@pytest.mark.parametrize("bad", ["", "x" * 256, "with space", "tab\tkey"])
def test_a_malformed_key_is_400(worker_and_fake: tuple[httpx.Client, FakeVenice], bad: str) -> None:
    client, _ = worker_and_fake
    reply = client.post(SESSIONS, json={}, headers={"Idempotency-Key": bad})
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"]["param"] == "Idempotency-Key"
