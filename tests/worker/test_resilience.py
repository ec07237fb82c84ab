"""Retries only before the first audio byte, and what a worker does when its model
server is away."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest

from harness.processes import DATA, free_port
from harness.servers import ThreadServer
from shared.audio.formats import AudioFormat
from tests.worker.fakes import elevenlabs_fake
from tests.worker.fakes.common import Behavior
from voice_worker.app import create_app
from voice_worker.errors import UpstreamError
from voice_worker.http.errors import http_status
from voice_worker.settings import Settings
from voice_worker.tts.base import SpeechOptions
from voice_worker.tts.elevenlabs import ElevenLabsTTS
from voice_worker.tts.model_server import ModelServerTTS

MP3 = SpeechOptions(format=AudioFormat.MP3)


@pytest.fixture(scope="module")
def eleven() -> Iterator[tuple[Behavior, str]]:
    behavior = Behavior()
    with ThreadServer(elevenlabs_fake.create_app(behavior)) as server:
        yield behavior, server.url


async def test_retried_before_the_first_byte(eleven: tuple[Behavior, str]) -> None:
    behavior, url = eleven
    behavior.calls.clear()
    behavior.mode = "500"
    provider = ElevenLabsTTS("test-key", url, max_retries=2, timeout=5)
    try:
        with pytest.raises(UpstreamError) as info:
            _ = [chunk async for chunk in provider.stream("Hello.", MP3)]
        assert http_status(info.value)[0] == 502
        assert len(behavior.calls) == 3  # the first try and two retries
    finally:
        behavior.mode = "ok"
        await provider.close()


async def test_never_retried_once_audio_has_started(eleven: tuple[Behavior, str]) -> None:
    behavior, url = eleven
    behavior.calls.clear()
    behavior.mode = "cut"
    provider = ElevenLabsTTS("test-key", url, max_retries=2, timeout=5)
    received: list[bytes] = []

    async def listen() -> None:
        async for chunk in provider.stream("Hello.", MP3):
            received.append(chunk)

    try:
        with pytest.raises(UpstreamError):
            await listen()
        assert received  # audio had reached the caller...
        assert len(behavior.calls) == 1  # ...so the failure was not retried
    finally:
        behavior.mode = "ok"
        await provider.close()


async def test_model_server_unreachable_is_503_after_retries() -> None:
    provider = ModelServerTTS(f"127.0.0.1:{free_port()}", timeout=5, max_retries=2)
    start = time.monotonic()
    with pytest.raises(UpstreamError) as info:
        _ = [chunk async for chunk in provider.stream("Hello.", MP3)]
    assert http_status(info.value)[0] == 503
    assert info.value.code == "upstream_unavailable"
    assert time.monotonic() - start < 5  # gave up, did not hang
    readiness = await provider.readiness()
    assert not readiness.ready
    assert "UNAVAILABLE" in readiness.detail
    await provider.close()


def test_worker_without_model_server() -> None:
    settings = Settings(
        stt={"provider": "mock"},
        tts={"model_server": f"127.0.0.1:{free_port()}", "max_retries": 0},
        access_log=False,
    )
    with ThreadServer(create_app(settings)) as worker:
        assert httpx.get(f"{worker.url}/healthz").status_code == 200
        ready = httpx.get(f"{worker.url}/readyz")
        assert ready.status_code == 503
        assert ready.json()["tts"]["ready"] is False
        speech = httpx.post(
            f"{worker.url}/v1/audio/speech",
            json={"model": "tts-1", "input": "Hi.", "voice": "alloy"},
        )
        assert speech.status_code == 503
        assert speech.json()["error"]["message"].startswith("model server: unavailable")


async def test_transcriptions_beyond_max_pending_get_503() -> None:
    settings = Settings(
        stt={"provider": "local", "max_pending": 1},
        tts={"model_server": f"127.0.0.1:{free_port()}"},
        access_log=False,
    )
    jfk = (DATA / "jfk.flac").read_bytes()
    with ThreadServer(create_app(settings)) as worker:
        async with httpx.AsyncClient(base_url=worker.url, timeout=60) as http:
            replies = await asyncio.gather(
                *(
                    http.post(
                        "/v1/audio/transcriptions",
                        files={"file": ("jfk.flac", jfk)},
                        data={"model": "whisper-1"},
                    )
                    for _ in range(3)
                )
            )
    statuses = sorted(r.status_code for r in replies)
    assert statuses[0] == 200
    assert statuses[-1] == 503
    busy = next(r for r in replies if r.status_code == 503)
    assert busy.json()["error"]["code"] == "too_many_pending"
    assert busy.headers["retry-after"] == "1"
