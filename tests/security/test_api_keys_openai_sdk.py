"""An `api_key` deployment with the official openai SDK, unchanged: `api_key=<key>` is
all it takes (the SDK sends `Authorization: Bearer`); a wrong key is the SDK's own
AuthenticationError; `X-API-Key` works too; `voice-engine keys new` makes the pair."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import httpx
import openai
import pytest

from harness.fake_venice import FakeVenice
from harness.processes import DATA, ROOT, Process, decode
from harness.servers import worker_process
from tests.security.support import worker_env
from voice_worker.auth.api_keys import hash_key

pytestmark = pytest.mark.slow


def new_key(user: str) -> tuple[str, str]:
    """(key, hash line) from `voice-engine keys new USER`."""
    done = subprocess.run(
        [sys.executable, "-m", "voice_engine.cli", "keys", "new", user],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=True,
    )
    key, line = done.stdout.splitlines()
    assert "VOICE_AUTH__API_KEYS=" in done.stderr and key not in done.stderr
    return key, line


@pytest.fixture(scope="module")
def keys() -> dict[str, str]:
    found = {}
    entries = []
    for user in ("alice", "bob"):
        key, line = new_key(user)
        found[user] = key
        entries.append(line)
    table = json.loads("{" + ", ".join(entries) + "}")
    assert table == {user: hash_key(key) for user, key in found.items()}
    found["__table__"] = json.dumps(table)
    return found


@pytest.fixture(scope="module")
def worker(
    tmp_path_factory: pytest.TempPathFactory,
    model_server: Process,
    venice: tuple[FakeVenice, str],
    keys: dict[str, str],
) -> Iterator[Process]:
    env = worker_env(
        venice[1],
        VOICE_AUTH__MODE="api_key",
        VOICE_AUTH__API_KEYS=keys["__table__"],
        VOICE_LOG__LEVEL="INFO",
    )
    with worker_process(tmp_path_factory.mktemp("key-worker"), model_server.address, env) as w:
        yield w


def test_the_openai_sdk_works_unchanged_with_its_api_key(
    worker: Process, keys: dict[str, str]
) -> None:
    client = openai.OpenAI(
        base_url=f"http://{worker.address}/v1", api_key=keys["alice"], max_retries=0
    )
    speech = client.audio.speech.create(model="tts-1", voice="alloy", input="Hello there.")
    rate, seconds, _ = decode(speech.content)
    assert rate > 0 and 0.4 < seconds < 5
    with (DATA / "jfk.flac").open("rb") as audio:
        text = client.audio.transcriptions.create(model="whisper-1", file=audio)
    assert text.text == "hello from the mock"  # VOICE_STT__PROVIDER=mock
    assert "whisper-1" in {m.id for m in client.models.list()}
    wrong = openai.OpenAI(base_url=f"http://{worker.address}/v1", api_key="ve_nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        wrong.models.list()
    assert caught.value.status_code == 401
    assert caught.value.code == "invalid_api_key"
    log = worker.log()
    assert keys["alice"] not in log and "ve_nope" not in log


def test_x_api_key_and_ownership_by_key(worker: Process, keys: dict[str, str]) -> None:
    with httpx.Client(base_url=f"http://{worker.address}", timeout=30) as api:
        alice = {"X-API-Key": keys["alice"]}
        created = api.post("/api/voice/sessions", json={"title": "by key"}, headers=alice)
        assert created.status_code == 201 and created.json()["owner"] == "alice"
        sid = created.json()["id"]
        assert api.get(f"/api/voice/sessions/{sid}", headers=alice).status_code == 200
        bob = {"Authorization": f"Bearer {keys['bob']}"}
        assert api.get(f"/api/voice/sessions/{sid}", headers=bob).status_code == 404
        assert api.get(f"/api/voice/sessions/{sid}").status_code == 401
