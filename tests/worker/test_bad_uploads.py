"""A corpus of bad uploads: each gets the right 4xx with a message that says what is
wrong, never a 500, and nothing reaches the model."""

from __future__ import annotations

import io
import wave

import httpx
import numpy as np
import pytest

from harness.processes import DATA
from shared.audio.encoding import encode
from shared.audio.formats import AudioFormat

JFK = (DATA / "jfk.flac").read_bytes()


def ten_minutes_of_audio() -> bytes:
    """10 minutes of quiet noise, 8 kHz FLAC (small, but long)."""
    rng = np.random.default_rng(0)
    samples = (rng.standard_normal(8000 * 600) * 0.01).astype(np.float32)
    return encode(samples, 8000, AudioFormat.FLAC)


def header_only_wav() -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(b"")
    return buffer.getvalue()


CORPUS = [
    # (id, filename, bytes, status, error code, words expected in the message)
    ("empty", "speech.wav", b"", 400, "empty_file", "empty"),
    ("truncated-flac", "jfk.flac", JFK[:200], 400, "invalid_audio", "not audio"),
    ("truncated-wav", "speech.wav", header_only_wav(), 400, "audio_too_short", "truncated"),
    ("wrong-extension", "jfk.exe", JFK, 400, "invalid_file_format", "extension"),
    (
        "text-file",
        "notes.wav",
        b"this is not audio, just some text\n" * 50,
        400,
        "invalid_audio",
        "not audio",
    ),
    (
        "html-as-mp3",
        "page.mp3",
        b"<html><body>hello</body></html>",
        400,
        "invalid_audio",
        "not audio",
    ),
    ("30-MB", "big.wav", b"RIFF" + bytes(30 * 2**20), 413, "file_too_large", "bytes"),
    ("10-minutes", "long.flac", ten_minutes_of_audio(), 400, "audio_too_long", "longer"),
]


@pytest.mark.parametrize(
    ("name", "data", "status", "code", "words"),
    [pytest.param(f, d, s, c, w, id=i) for i, f, d, s, c, w in CORPUS],
)
def test_bad_upload(
    worker_url: str, name: str, data: bytes, status: int, code: str, words: str
) -> None:
    for route, fields in (
        ("/v1/audio/transcriptions", {"model": "whisper-1"}),
        ("/api/voice/stt", {}),
    ):
        response = httpx.post(
            f"{worker_url}{route}", files={"file": (name, data)}, data=fields, timeout=60
        )
        assert response.status_code == status, (route, response.text)
        error = response.json()["error"]
        assert error["code"] == code
        assert error["param"] == "file"
        assert words in error["message"]


def test_missing_file_and_bad_fields(worker_url: str) -> None:
    url = f"{worker_url}/v1/audio/transcriptions"
    no_file = httpx.post(url, data={"model": "whisper-1"})
    assert no_file.status_code == 400
    assert no_file.json()["error"]["param"] == "file"
    bad_format = httpx.post(
        url, files={"file": ("a.flac", JFK)}, data={"model": "whisper-1", "response_format": "xml"}
    )
    assert bad_format.status_code == 400
    assert bad_format.json()["error"]["param"] == "response_format"
    json_body = httpx.post(url, json={"model": "whisper-1"})
    assert json_body.status_code == 400


def test_rejections_are_counted_and_never_reach_the_model(worker_url: str) -> None:
    def counters() -> dict[str, float]:
        state: dict[str, float] = httpx.get(f"{worker_url}/debug/counters").json()["transcription"]
        return state

    before = counters()
    for _, name, data, *_ in CORPUS:
        httpx.post(f"{worker_url}/api/voice/stt", files={"file": (name, data)}, timeout=60)
    after = counters()
    assert after["rejected"] - before["rejected"] == len(CORPUS)
    assert after["audio_seconds"] == before["audio_seconds"]  # nothing was transcribed
