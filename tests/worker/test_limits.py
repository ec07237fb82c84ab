"""Limits follow their one setting: the spoken turn's upload limit is
VOICE_STT__MAX_BYTES (as for /v1/audio/transcriptions), a typed turn's length
VOICE_CHAT__MAX_INPUT_CHARS; and MP3 replies are 96 kbit/s (VOICE_AUDIO__MP3_KBPS),
not the 32 kbit/s the encoder picks by itself at 22.05 kHz."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import av
import httpx
import pytest

from harness.processes import DATA, Process, decode
from harness.servers import ThreadServer
from voice_worker.app import create_app
from voice_worker.settings import Settings

JFK = (DATA / "jfk.flac").read_bytes()


@pytest.fixture(scope="module")
def small_worker(model_server: Process, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = Settings(
        stt={"provider": "mock", "max_bytes": len(JFK) - 1},
        chat={"max_input_chars": 40},
        tts={"model_server": model_server.address},
        data_dir=tmp_path_factory.mktemp("small-worker"),
        access_log=False,
    )
    with ThreadServer(create_app(settings)) as worker:
        yield worker.url


def new_session(url: str) -> str:
    return str(httpx.post(f"{url}/api/voice/sessions", timeout=30).json()["id"])


def test_the_spoken_turn_upload_limit_is_the_stt_setting(small_worker: str) -> None:
    session = new_session(small_worker)
    reply = httpx.post(
        f"{small_worker}/api/voice/sessions/{session}/messages",
        files={"audio": ("jfk.flac", JFK, "audio/flac")},
        timeout=60,
    )
    assert reply.status_code == 413, reply.text
    error = reply.json()["error"]
    assert (error["param"], error["code"]) == ("audio", "file_too_large")
    assert f"at most {len(JFK) - 1}" in error["message"]
    same = httpx.post(
        f"{small_worker}/v1/audio/transcriptions",
        files={"file": ("jfk.flac", JFK, "audio/flac")},
        data={"model": "whisper-1"},
        timeout=60,
    )
    assert same.status_code == 413  # one setting, both routes


def test_the_typed_turn_limit_is_the_chat_setting(small_worker: str) -> None:
    session = new_session(small_worker)
    url = f"{small_worker}/api/voice/sessions/{session}/text"
    reply = httpx.post(url, json={"text": "x" * 41}, timeout=60)
    assert reply.status_code == 400, reply.text
    assert "at most 40" in reply.json()["error"]["message"]


def mp3_bit_rate(data: bytes) -> float:
    """Bits per second of the MP3's audio frames (the file's size over its duration)."""
    _, seconds, _ = decode(data)
    with av.open(io.BytesIO(data)) as container:
        assert container.streams.audio[0].codec_context.name.startswith("mp3")
    return len(data) * 8 / seconds


def test_mp3_replies_are_96_kbps(worker_url: str) -> None:
    body = {"model": "tts-1", "voice": "alloy", "response_format": "mp3"}
    body["input"] = "A sentence long enough to measure the bit rate of its audio well."
    reply = httpx.post(f"{worker_url}/v1/audio/speech", json=body, timeout=60)
    assert reply.status_code == 200
    assert 90_000 <= mp3_bit_rate(reply.content) <= 110_000


def test_the_bit_rate_is_a_setting(model_server: Process, tmp_path: Path) -> None:
    settings = Settings(
        stt={"provider": "mock"},
        tts={"model_server": model_server.address},
        audio={"aac_kbps": 48},
        data_dir=tmp_path,
        access_log=False,
    )
    body = {"model": "tts-1", "voice": "alloy", "response_format": "aac"}
    body["input"] = "AAC is encoded by the worker itself, at the bit rate it is told."
    with ThreadServer(create_app(settings)) as worker:
        reply = httpx.post(f"{worker.url}/v1/audio/speech", json=body, timeout=60)
    assert reply.status_code == 200
    _, seconds, _ = decode(reply.content)
    assert 40_000 <= len(reply.content) * 8 / seconds <= 56_000
