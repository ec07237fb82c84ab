"""How the worker calls the model server, against a scripted gRPC server on a real
port: failures are read from the status's rich details (the field at fault, not a
guess from the message), and gRPC's own retry policy retries UNAVAILABLE and
RESOURCE_EXHAUSTED before the first byte, never after it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import httpx
import pytest

from harness.servers import ThreadServer
from shared.audio.encoding import encode
from shared.audio.formats import AudioFormat
from tests.worker.fakes.common import tone
from voice_contract.errors import abort, rich_status
from voice_contract.v1 import tts_pb2 as pb
from voice_contract.v1 import tts_pb2_grpc
from voice_worker.app import create_app
from voice_worker.errors import InvalidRequest, UpstreamUnavailable
from voice_worker.settings import Settings
from voice_worker.tts.base import SpeechOptions
from voice_worker.tts.model_server import ModelServerTTS

WAV = SpeechOptions(format=AudioFormat.WAV)
AUDIO = encode(tone(0.5, 22050), 22050, AudioFormat.WAV)
Failure = tuple[grpc.StatusCode, str, str]  # code, reason, field


class ScriptedServer(tts_pb2_grpc.TextToSpeechServicer):
    """Plays `script` one call at a time: a Failure, "ok", or (streams) "cut": one chunk,
    then UNAVAILABLE."""

    def __init__(self) -> None:
        self.script: list[Failure | str] = []
        self.calls = 0

    def _next(self) -> Failure | str:
        self.calls += 1
        return self.script.pop(0) if self.script else "ok"

    async def Synthesize(self, request: pb.SynthesizeRequest, context: Any) -> Any:
        action = self._next()
        if isinstance(action, tuple):
            code, reason, field = action
            await abort(context, rich_status(code, "it did not work out", reason, field))
        return pb.SynthesizeResponse(
            audio=AUDIO, format=pb.AUDIO_FORMAT_WAV, sample_rate=22050, duration_seconds=0.5
        )

    async def SynthesizeStream(
        self, request: pb.SynthesizeRequest, context: Any
    ) -> AsyncIterator[pb.AudioChunk]:
        action = self._next()
        if isinstance(action, tuple):
            code, reason, field = action
            await abort(context, rich_status(code, "it did not work out", reason, field))
        yield pb.AudioChunk(audio=AUDIO[:1000], sequence=0, format=pb.AUDIO_FORMAT_WAV)
        if action == "cut":
            await context.abort(grpc.StatusCode.UNAVAILABLE, "going away")
        yield pb.AudioChunk(audio=AUDIO[1000:], sequence=1, format=pb.AUDIO_FORMAT_WAV, final=True)


@pytest.fixture
async def scripted() -> AsyncIterator[tuple[ScriptedServer, str]]:
    server = grpc.aio.server()
    servicer = ScriptedServer()
    tts_pb2_grpc.add_TextToSpeechServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield servicer, f"127.0.0.1:{port}"
    finally:
        await server.stop(grace=None)


UNAVAILABLE: Failure = (grpc.StatusCode.UNAVAILABLE, "", "")
BUSY: Failure = (grpc.StatusCode.RESOURCE_EXHAUSTED, "SERVER_BUSY", "")
UNKNOWN_VOICE: Failure = (grpc.StatusCode.NOT_FOUND, "VOICE_NOT_FOUND", "voice")


async def test_the_field_at_fault_comes_from_the_details(
    scripted: tuple[ScriptedServer, str],
) -> None:
    servicer, address = scripted
    provider = ModelServerTTS(address, timeout=5, max_retries=2)

    async def drain() -> None:
        _ = [chunk async for chunk in provider.stream("Hello.", WAV)]

    try:
        for call in (provider.synthesize("Hello.", WAV), drain()):
            servicer.script = [UNKNOWN_VOICE]
            with pytest.raises(InvalidRequest) as caught:
                await call
            # the message says nothing of voices: the worker read the details
            assert caught.value.message == "it did not work out"
            assert (caught.value.param, caught.value.code) == ("voice", "voice_not_found")
    finally:
        await provider.close()


@pytest.mark.parametrize("failure", [UNAVAILABLE, BUSY], ids=["unavailable", "busy"])
async def test_transient_failures_are_retried_by_grpc(
    scripted: tuple[ScriptedServer, str], failure: Failure
) -> None:
    servicer, address = scripted
    provider = ModelServerTTS(address, timeout=5, max_retries=2)
    try:
        servicer.script, servicer.calls = [failure, failure], 0
        speech = await provider.synthesize("Hello.", WAV)
        assert speech.audio == AUDIO and servicer.calls == 3
        servicer.script, servicer.calls = [failure, failure], 0
        streamed = b"".join([chunk async for chunk in provider.stream("Hello.", WAV)])
        assert streamed == AUDIO and servicer.calls == 3
        servicer.script, servicer.calls = [failure] * 3, 0
        with pytest.raises(UpstreamUnavailable):
            await provider.synthesize("Hello.", WAV)
        assert servicer.calls == 3  # the first try and two retries, then the error
    finally:
        await provider.close()


async def test_nothing_is_retried_without_retries_or_for_a_bad_request(
    scripted: tuple[ScriptedServer, str],
) -> None:
    servicer, address = scripted
    once = ModelServerTTS(address, timeout=5, max_retries=0)
    retrying = ModelServerTTS(address, timeout=5, max_retries=2)
    try:
        servicer.script, servicer.calls = [UNAVAILABLE], 0
        with pytest.raises(UpstreamUnavailable):
            await once.synthesize("Hello.", WAV)
        assert servicer.calls == 1
        servicer.script, servicer.calls = [UNKNOWN_VOICE], 0
        with pytest.raises(InvalidRequest):
            await retrying.synthesize("Hello.", WAV)
        assert servicer.calls == 1
    finally:
        await once.close()
        await retrying.close()


async def test_a_stream_is_never_retried_once_audio_has_started(
    scripted: tuple[ScriptedServer, str],
) -> None:
    servicer, address = scripted
    provider = ModelServerTTS(address, timeout=5, max_retries=2)
    received: list[bytes] = []

    async def listen() -> None:
        async for chunk in provider.stream("Hello.", WAV):
            received.append(chunk)

    try:
        servicer.script, servicer.calls = ["cut"], 0
        with pytest.raises(UpstreamUnavailable):
            await listen()
        assert received == [AUDIO[:1000]]  # the caller heard the start...
        assert servicer.calls == 1  # ...so gRPC did not replay the call
    finally:
        await provider.close()


async def test_an_unknown_voice_is_a_400_naming_the_field_over_http(
    scripted: tuple[ScriptedServer, str],
) -> None:
    servicer, address = scripted
    settings = Settings(
        stt={"provider": "mock"},
        tts={"model_server": address, "max_retries": 0},
        database={"tts_models_sync_seconds": 0},
        access_log=False,
    )
    worker = ThreadServer(create_app(settings))
    await asyncio.to_thread(worker.__enter__)  # this loop serves the scripted server
    try:
        servicer.script = [UNKNOWN_VOICE]
        async with httpx.AsyncClient(timeout=30) as client:
            reply = await client.post(
                f"{worker.url}/v1/audio/speech",
                json={"model": "tts-1", "input": "Hello there.", "voice": "zed"},
            )
    finally:
        await asyncio.to_thread(worker.__exit__, None, None, None)
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert (error["param"], error["code"]) == ("voice", "voice_not_found")
