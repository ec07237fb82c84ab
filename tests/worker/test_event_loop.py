"""FFmpeg work (decoding, probing, encoding) never runs on the event loop: while one
request's decode is stuck, the same worker answers another request. Each slow decode here
waits for a signal that only the event loop can send, so a decode on the loop would
wait in vain and fail the test."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import numpy as np
import pytest

from harness.processes import DATA, Process
from harness.servers import ThreadServer
from shared.audio import decoding
from shared.audio.encoding import FloatArray, StreamEncoder
from shared.audio.formats import AudioFormat
from tests.worker.fakes import openai_fake
from tests.worker.fakes.common import Behavior, audio_bytes
from voice_worker.app import create_app
from voice_worker.conversation import adapters
from voice_worker.settings import Settings
from voice_worker.stt import openai_whisper
from voice_worker.stt.base import TranscriptionOptions
from voice_worker.tts import openai_tts, transcode
from voice_worker.tts.base import SpeechOptions, SpeechPiece

JFK = (DATA / "jfk.flac").read_bytes()


class SlowCall:
    """Wraps an FFmpeg call: tells `entered`, then blocks until `release` (at most 10 s)."""

    def __init__(self, real: Callable[..., Any]) -> None:
        self.real = real
        self.entered = threading.Event()
        self.release = threading.Event()
        self.released_in_time = False

    def __call__(self, *args: Any) -> Any:
        self.entered.set()
        self.released_in_time = self.release.wait(10)
        return self.real(*args)


@pytest.fixture(scope="module")
def openai_upstream() -> Iterator[str]:
    with ThreadServer(openai_fake.create_app(Behavior())) as server:
        yield f"{server.url}/v1"


async def released_by_the_loop(slow: SlowCall, call: Any) -> Any:
    task = asyncio.ensure_future(call)
    assert await asyncio.to_thread(slow.entered.wait, 10), "the decode never started"
    slow.release.set()  # only reached if the loop is free while the decode runs
    result = await task
    assert slow.released_in_time
    return result


async def test_openai_speech_decodes_off_the_loop(
    openai_upstream: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow = SlowCall(decoding.decode)
    monkeypatch.setattr(openai_tts, "decode", slow)
    provider = openai_tts.OpenAITTS("test-key", openai_upstream, timeout=10, max_retries=0)
    try:
        speech = await released_by_the_loop(
            slow, provider.synthesize("Hello.", SpeechOptions(format=AudioFormat.MP3))
        )
    finally:
        await provider.close()
    assert speech.duration == pytest.approx(1.0, abs=0.1)


async def test_openai_transcription_probes_off_the_loop(
    openai_upstream: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow = SlowCall(decoding.probe)
    monkeypatch.setattr(openai_whisper, "probe", slow)
    provider = openai_whisper.OpenAIWhisperSTT("test-key", openai_upstream, timeout=10)
    try:
        transcript = await released_by_the_loop(
            slow, provider.transcribe(JFK, TranscriptionOptions())
        )
    finally:
        await provider.close()
    assert transcript.text


async def test_transcoding_encodes_off_the_loop_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """A provider's PCM encoded here (AAC from the model server): PyAV on a thread, the
    output the same bytes, in the same order, with the same sentence marks."""
    rate = 24_000
    pcm = audio_bytes(AudioFormat.PCM, rate, seconds=1.0)
    blocks = [pcm[i : i + 4800] for i in range(0, len(pcm), 4800)]
    direct = StreamEncoder(AudioFormat.AAC, rate)
    expected = [direct.write(samples_of(block)) for block in blocks] + [direct.close()]
    slow = SlowCall(StreamEncoder.write)

    class SlowEncoder(StreamEncoder):
        def write(self, samples: FloatArray) -> bytes:
            return bytes(slow(self, samples))

    monkeypatch.setattr(transcode, "StreamEncoder", SlowEncoder)

    async def pieces() -> AsyncIterator[SpeechPiece]:
        for index, block in enumerate(blocks):
            yield SpeechPiece(block, text=f"s{index}" if index % 2 == 0 else "")

    async def encoded() -> list[SpeechPiece]:
        return [p async for p in transcode.encode_pieces(pieces(), rate, AudioFormat.AAC)]

    out = await released_by_the_loop(slow, encoded())
    assert [p.audio for p in out if p.audio] == [chunk for chunk in expected if chunk]
    assert [p.text for p in out if p.text] == [f"s{i}" for i in range(0, len(blocks), 2)]
    assert decoding.decode(b"".join(p.audio for p in out)).duration == pytest.approx(1.0, abs=0.1)


def samples_of(pcm: bytes) -> FloatArray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


def test_a_turn_stuck_in_a_probe_does_not_stop_the_worker(
    model_server: Process, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole worker: a typed turn's reply audio is probed (CachedTTS); while that
    probe is stuck, /healthz and /readyz still answer."""
    slow = SlowCall(decoding.probe)
    monkeypatch.setattr(adapters, "probe", slow)
    settings = Settings(
        stt={"provider": "mock"},
        tts={"model_server": model_server.address},
        data_dir=tmp_path,
        response_cache={"enabled": False},
        access_log=False,
    )
    with ThreadServer(create_app(settings)) as worker:
        session = httpx.post(f"{worker.url}/api/voice/sessions", timeout=30).json()["id"]
        replies: list[httpx.Response] = []
        turn = threading.Thread(
            target=lambda: replies.append(
                httpx.post(
                    f"{worker.url}/api/voice/sessions/{session}/text",
                    json={"text": f"Say hello to {uuid.uuid4().hex[:6]}."},
                    timeout=60,
                )
            )
        )
        turn.start()
        try:
            assert slow.entered.wait(60), "the turn never reached its probe"
            assert httpx.get(f"{worker.url}/healthz", timeout=5).status_code == 200
            assert httpx.get(f"{worker.url}/readyz", timeout=5).status_code == 200
            assert not slow.release.is_set()  # the probe was still stuck meanwhile
        finally:
            slow.release.set()
            turn.join(60)
    assert replies and replies[0].status_code == 200, replies and replies[0].text
    assert slow.released_in_time
