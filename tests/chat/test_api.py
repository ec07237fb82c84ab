"""/api/voice/* on a real worker subprocess (local whisper, SmolLM2, the session's model
server): sessions, history, both flows, audio replies, clear 4xx."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest

from harness.processes import DATA, JFK_TRANSCRIPT, Process, decode, word_error_rate
from harness.servers import worker_process

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, model_server: Process) -> Iterator[httpx.Client]:
    directory = tmp_path_factory.mktemp("chat-worker")
    env = {
        "VOICE_DATA_DIR": str(directory),
        "VOICE_CHAT__PROVIDER": "local",
        "VOICE_CHAT__MAX_TOKENS": "48",
        "VOICE_CHAT__TEMPERATURE": "0",
    }
    with (
        worker_process(directory, model_server.address, env) as worker,
        httpx.Client(base_url=f"http://{worker.address}", timeout=60) as client,
    ):
        yield client
    assert (directory / "voice-chat.db").is_file()  # the default store: a file in data_dir


def new_session(api: httpx.Client, **settings: object) -> str:
    reply = api.post("/api/voice/sessions", json={"title": "t", "settings": settings})
    assert reply.status_code == 201, reply.text
    return str(reply.json()["id"])


def test_session_crud(api: httpx.Client) -> None:
    sid = new_session(api, voice="", audio_format="wav", analyst_role="analyst")
    got = api.get(f"/api/voice/sessions/{sid}").json()
    assert got["settings"]["audio_format"] == "wav" and got["settings"]["analyst_role"] == "analyst"
    patched = api.patch(f"/api/voice/sessions/{sid}", json={"settings": {"speed": 1.5}})
    assert patched.status_code == 200
    assert patched.json()["settings"]["speed"] == 1.5
    assert patched.json()["settings"]["audio_format"] == "wav"  # untouched fields stay
    ids = {new_session(api) for _ in range(3)} | {sid}
    first = api.get("/api/voice/sessions", params={"limit": 2}).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    seen = {s["id"] for s in first["items"]}
    cursor = first["next_cursor"]
    while cursor:
        page = api.get("/api/voice/sessions", params={"limit": 2, "cursor": cursor}).json()
        seen |= {s["id"] for s in page["items"]}
        cursor = page["next_cursor"]
    assert ids <= seen
    assert api.delete(f"/api/voice/sessions/{sid}").status_code == 204
    gone = api.get(f"/api/voice/sessions/{sid}")
    assert gone.status_code == 404 and sid in gone.json()["error"]["message"]
    bare = api.post("/api/voice/sessions")  # no body: the defaults
    assert bare.status_code == 201 and bare.json()["settings"]["audio_format"] == "mp3"


def test_bad_requests_are_clear_4xx(api: httpx.Client) -> None:
    sid = new_session(api)
    cases = [
        api.post("/api/voice/sessions/nope/text", json={"text": "hi"}),
        api.post(f"/api/voice/sessions/{sid}/text", json={"text": "   "}),
        api.post(f"/api/voice/sessions/{sid}/text", json={}),
        api.patch(f"/api/voice/sessions/{sid}", json={"settings": {"analyst_role": "pirate"}}),
        api.patch(f"/api/voice/sessions/{sid}", json={"settings": {"audio_format": "xyz"}}),
        api.patch(f"/api/voice/sessions/{sid}", json={"settings": {"speed": 9}}),
        api.get("/api/voice/sessions", params={"cursor": "%%%"}),
        api.post(f"/api/voice/sessions/{sid}/messages", files={"audio": ("a.wav", b"not audio")}),
        api.post(f"/api/voice/sessions/{sid}/messages", files={"other": ("a.wav", b"x")}),
    ]
    statuses = [r.status_code for r in cases]
    assert statuses == [404, 400, 400, 400, 400, 400, 400, 400, 400], [r.text for r in cases]
    messages = [r.json()["error"]["message"] for r in cases]
    assert "no voice chat session" in messages[0]
    assert "empty" in messages[1]
    assert "pirate" in messages[3] and "valid roles" in messages[3]
    assert "not audio" in messages[7]
    assert api.get(f"/api/voice/sessions/{sid}/messages").json()["items"] == []


def test_voice_then_text_turn_with_history(api: httpx.Client) -> None:
    sid = new_session(api, audio_format="wav")
    audio = (DATA / "jfk.flac").read_bytes()
    reply = api.post(f"/api/voice/sessions/{sid}/messages", files={"audio": ("jfk.flac", audio)})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert set(body) >= {"transcript", "reply_text", "thinking", "audio_format", "audio_base64"}
    assert word_error_rate(JFK_TRANSCRIPT, body["transcript"]) <= 0.15
    assert body["reply_text"] and body["audio_format"] == "wav"
    assert {"stt", "chat", "tts"} <= set(body["timings"])
    rate, seconds, _ = decode(base64.b64decode(body["audio_base64"]))
    assert rate == 22050 and seconds > 0.3

    spoken = api.post(
        f"/api/voice/sessions/{sid}/text",
        json={"text": "Say it again, café owner."},
        headers={"Accept": "audio/*"},
    )
    assert spoken.status_code == 200
    assert spoken.headers["content-type"] == "audio/wav"
    assert decode(spoken.content)[1] > 0.3
    assert unquote(spoken.headers["x-reply-text"])
    assert "x-transcript" not in spoken.headers  # typed, not heard

    history = api.get(f"/api/voice/sessions/{sid}/messages", params={"limit": 3}).json()
    assert [m["role"] for m in history["items"]] == ["user", "assistant", "user"]
    assert history["items"][0]["transcript"] == body["transcript"]
    assert history["items"][1]["text"] == body["reply_text"]
    rest = api.get(
        f"/api/voice/sessions/{sid}/messages", params={"cursor": history["next_cursor"]}
    ).json()
    assert [m["role"] for m in rest["items"]] == ["assistant"] and rest["next_cursor"] is None
    assert rest["items"][0]["text"] == unquote(spoken.headers["x-reply-text"])


def test_data_dir_default_store(tmp_path: Path) -> None:
    """Settings resolve the default URL to a SQLite file in the data directory."""
    from voice_worker.settings import Settings

    settings = Settings(data_dir=tmp_path)
    assert (
        settings.database.resolved_url(settings.data_dir) == f"sqlite:///{tmp_path}/voice-chat.db"
    )


def test_cli_chat_typed_and_audio(api: httpx.Client, tmp_path: Path) -> None:
    import subprocess
    import sys

    base = [sys.executable, "-m", "voice_engine.cli", "chat", "--worker", str(api.base_url)]
    typed = subprocess.run(
        [*base, "--format", "wav", "-o", str(tmp_path / "reply.wav")],
        input="Hello there.\nWhat did I just say?\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert typed.returncode == 0, typed.stderr
    assert typed.stdout.count("assistant: ") == 2
    assert decode((tmp_path / "reply.wav").read_bytes())[1] > 0.2
    assert decode((tmp_path / "reply-2.wav").read_bytes())[1] > 0.2
    heard = subprocess.run(
        [*base, "--audio", str(DATA / "jfk.flac"), "-o", str(tmp_path / "jfk-reply.mp3")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert heard.returncode == 0, heard.stderr
    assert "you:       And so" in heard.stdout and "fellow Americans" in heard.stdout
    assert decode((tmp_path / "jfk-reply.mp3").read_bytes())[1] > 0.2
    missing = subprocess.run(
        [*base, "--session", "nope", "--text", "hi"], capture_output=True, text=True, timeout=60
    )
    assert missing.returncode == 1 and "404: no voice chat session" in missing.stderr


def test_repeated_question_served_from_the_caches(api: httpx.Client) -> None:
    sid = new_session(api, audio_format="mp3")
    first = api.post(f"/api/voice/sessions/{sid}/text", json={"text": "Name a colour."}).json()
    again = api.post(f"/api/voice/sessions/{sid}/text", json={"text": "Name a colour."}).json()
    assert (first["cached"], again["cached"]) == (False, True)
    assert again["reply_text"] == first["reply_text"]
    assert again["audio_base64"] == first["audio_base64"]  # the audio cache, too
    assert again["timings"]["chat"] < 0.05 < first["timings"]["chat"]
    assert first["audio_duration"] > 0.2 and first["sample_rate"] == 22050
    history = api.get(f"/api/voice/sessions/{sid}/messages").json()["items"]
    assert len(history) == 4  # a cached reply is still a turn of the conversation
