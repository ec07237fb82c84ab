"""Qwen3-TTS through the real model server over gRPC: two tiny checkpoints, a limit of
one loaded model, unary and streamed synthesis, batching of concurrent requests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from harness.processes import decode
from model_server.backends.qwen3 import Qwen3Backend
from model_server.server import RunningServer, start
from model_server.settings import ModelSpec, Settings
from tests.qwen3.conftest import FRAMES, RATE, greedy
from voice_contract.v1 import tts_pb2 as pb
from voice_contract.v1 import tts_pb2_grpc

SENTENCE_SECONDS = FRAMES * 0.08  # 12.5 codec frames a second


@dataclass
class Server:
    running: RunningServer
    stub: tts_pb2_grpc.TextToSpeechStub

    def backend(self, name: str) -> Qwen3Backend:
        backend = self.running.synthesizer.registry.entry(name).backend
        assert isinstance(backend, Qwen3Backend)
        return backend

    async def states(self) -> dict[str, int]:
        reply = await self.stub.ListModels(pb.ListModelsRequest())
        return {m.name: m.state for m in reply.models if m.backend == "qwen3"}


@pytest.fixture
async def server(custom_voice: Path, custom_voice_b: Path) -> AsyncIterator[Server]:
    settings = Settings(
        host="127.0.0.1",
        port=0,
        metrics_port=0,
        default_model="qwen-a",
        models=[
            ModelSpec(name="qwen-a", backend="qwen3", path=custom_voice, options=greedy()),
            ModelSpec(name="qwen-b", backend="qwen3", path=custom_voice_b, options=greedy()),
        ],
        registry={"max_loaded_models": 1, "preload": []},
        batching={"window_ms": 50},
    )
    running = await start(settings)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{running.port}")
    try:
        yield Server(running, tts_pb2_grpc.TextToSpeechStub(channel))
    finally:
        await channel.close(None)
        await running.stop(grace=1)


async def test_synthesize_and_stream_decode_to_24khz_of_the_expected_length(
    server: Server,
) -> None:
    text = "Hello there. How are you today?"  # two sentences
    reply = await server.stub.Synthesize(
        pb.SynthesizeRequest(text=text, voice="Ryan", language="english")
    )
    assert (reply.model, reply.voice, reply.sample_rate) == ("qwen-a", "Ryan", RATE)
    assert reply.duration_seconds == pytest.approx(2 * SENTENCE_SECONDS)
    rate, seconds, channels = decode(reply.audio)
    assert (rate, channels) == (RATE, 1)
    assert seconds == pytest.approx(2 * SENTENCE_SECONDS, abs=0.01)

    chunks = [
        c
        async for c in server.stub.SynthesizeStream(
            pb.SynthesizeRequest(text=text, format=pb.AUDIO_FORMAT_FLAC, voice="Sohee")
        )
    ]
    assert len(chunks) >= 2 and chunks[-1].final
    assert [c.sequence for c in chunks] == list(range(len(chunks)))
    rate, seconds, _ = decode(b"".join(c.audio for c in chunks))
    assert rate == RATE
    assert seconds == pytest.approx(2 * SENTENCE_SECONDS, abs=0.01)


async def test_list_voices_reports_the_checkpoint(server: Server) -> None:
    reply = await server.stub.ListVoices(pb.ListVoicesRequest(model="qwen-a"))
    names = [v.name for v in reply.voices]
    assert names[0] == "Vivian" and len(names) == 9 and "Uncle_Fu" in names
    assert "Italian" in reply.voices[0].languages and "Auto" in reply.voices[0].languages


async def test_bad_voice_and_language_are_refused(server: Server) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as voice:
        await server.stub.Synthesize(pb.SynthesizeRequest(text="Hi.", voice="vivian"))
    assert voice.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as language:
        await server.stub.Synthesize(pb.SynthesizeRequest(text="Hi.", language="Klingon"))
    assert language.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_concurrent_requests_run_as_one_generate_call(server: Server) -> None:
    await server.stub.LoadModel(pb.LoadModelRequest(name="qwen-b"))
    backend = server.backend("qwen-b")
    calls = backend.generate_calls
    voices = ["Vivian", "Ryan", "Aiden", "Sohee", "Eric", "Serena"]
    replies = await asyncio.gather(
        *(
            server.stub.Synthesize(
                pb.SynthesizeRequest(text=f"Request {i}.", model="qwen-b", voice=v)
            )
            for i, v in enumerate(voices)
        )
    )
    assert backend.generate_calls == calls + 1
    assert [r.voice for r in replies] == voices
    assert all(r.duration_seconds == pytest.approx(SENTENCE_SECONDS) for r in replies)


async def test_lru_keeps_one_model_with_a_limit_of_one(server: Server) -> None:
    loaded, unloaded = pb.MODEL_STATE_LOADED, pb.MODEL_STATE_UNLOADED
    assert await server.states() == {"qwen-a": unloaded, "qwen-b": unloaded}
    await server.stub.Synthesize(pb.SynthesizeRequest(text="One.", model="qwen-a"))
    assert await server.states() == {"qwen-a": loaded, "qwen-b": unloaded}
    await server.stub.Synthesize(pb.SynthesizeRequest(text="Two.", model="qwen-b"))
    assert await server.states() == {"qwen-a": unloaded, "qwen-b": loaded}
    assert server.backend("qwen-a").memory_bytes() == 0
    models = {m.name: m for m in (await server.stub.ListModels(pb.ListModelsRequest())).models}
    assert models["qwen-b"].memory_bytes == server.backend("qwen-b").memory_bytes() > 0
    assert models["qwen-b"].sample_rate == RATE
    await server.stub.Synthesize(pb.SynthesizeRequest(text="Three.", model="qwen-a"))
    assert await server.states() == {"qwen-a": loaded, "qwen-b": unloaded}


@pytest.fixture
async def clone_server(base_model: Path, custom_voice: Path) -> AsyncIterator[Server]:
    settings = Settings(
        host="127.0.0.1",
        port=0,
        metrics_port=0,
        default_model="clone",
        models=[
            ModelSpec(name="clone", backend="qwen3", path=base_model, options=greedy()),
            ModelSpec(name="preset", backend="qwen3", path=custom_voice, options=greedy()),
        ],
        registry={"preload": []},
    )
    running = await start(settings)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{running.port}")
    try:
        yield Server(running, tts_pb2_grpc.TextToSpeechStub(channel))
    finally:
        await channel.close(None)
        await running.stop(grace=1)


def reference_clip(seconds: float) -> bytes:
    import io

    import numpy as np
    import soundfile

    rng = np.random.default_rng(1)
    buffer = io.BytesIO()
    samples = (0.1 * rng.standard_normal(int(16_000 * seconds))).astype(np.float32)
    soundfile.write(buffer, samples, 16_000, format="WAV")
    return buffer.getvalue()


async def test_register_voice_then_speak_with_it(clone_server: Server) -> None:
    stub = clone_server.stub
    assert list((await stub.ListVoices(pb.ListVoicesRequest(model="clone"))).voices) == []
    with pytest.raises(grpc.aio.AioRpcError) as none_yet:
        await stub.Synthesize(pb.SynthesizeRequest(text="Hello."))
    assert none_yet.value.code() == grpc.StatusCode.NOT_FOUND

    voice = await stub.RegisterVoice(
        pb.RegisterVoiceRequest(name="alice", audio=reference_clip(2), text="Hi, I am Alice.")
    )
    assert (voice.model, voice.name) == ("clone", "alice")
    assert "English" in voice.languages
    await stub.RegisterVoice(pb.RegisterVoiceRequest(name="bob", audio=reference_clip(1.5)))
    voices = await stub.ListVoices(pb.ListVoicesRequest(model="clone"))
    assert [v.name for v in voices.voices] == ["alice", "bob"]

    reply = await stub.Synthesize(pb.SynthesizeRequest(text="Hello there.", voice="bob"))
    assert reply.voice == "bob"
    assert reply.duration_seconds == pytest.approx(SENTENCE_SECONDS)
    reply = await stub.Synthesize(pb.SynthesizeRequest(text="Hello there.", voice="alice"))
    assert reply.duration_seconds == pytest.approx(SENTENCE_SECONDS, abs=0.08)


async def test_register_voice_refusals(clone_server: Server) -> None:
    stub = clone_server.stub
    cases = [
        pb.RegisterVoiceRequest(model="preset", name="x", audio=reference_clip(2)),
        pb.RegisterVoiceRequest(name="", audio=reference_clip(2)),
        pb.RegisterVoiceRequest(name="x", audio=b"not audio"),
        pb.RegisterVoiceRequest(name="x", audio=reference_clip(0.3)),
    ]
    for request in cases:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.RegisterVoice(request)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT, request.name
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await stub.RegisterVoice(pb.RegisterVoiceRequest(model="nope", name="x"))
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND


async def test_concurrent_streams_share_one_generate_call(server: Server) -> None:
    await server.stub.LoadModel(pb.LoadModelRequest(name="qwen-b"))
    backend = server.backend("qwen-b")
    calls = backend.generate_calls

    async def stream(voice: str) -> tuple[float, int]:
        request = pb.SynthesizeRequest(text="One sentence.", model="qwen-b", voice=voice)
        chunks = [c async for c in server.stub.SynthesizeStream(request)]
        rate, seconds, _ = decode(b"".join(c.audio for c in chunks))
        return seconds, rate

    results = await asyncio.gather(*(stream(v) for v in ["Vivian", "Ryan", "Sohee", "Eric"]))
    assert backend.generate_calls == calls + 1
    for seconds, rate in results:
        assert rate == RATE
        assert seconds == pytest.approx(SENTENCE_SECONDS, abs=0.01)


async def test_concurrent_text_streams_share_one_generate_call(server: Server) -> None:
    """SynthesizeTextStream: four replies written at once, each sentence released as it
    is written; their first sentences run as one batched generate call."""
    await server.stub.LoadModel(pb.LoadModelRequest(name="qwen-b"))
    backend = server.backend("qwen-b")
    calls = backend.generate_calls

    async def requests(voice: str) -> AsyncIterator[pb.TextStreamRequest]:
        config = pb.TextStreamConfig(model="qwen-b", voice=voice, format=pb.AUDIO_FORMAT_WAV)
        yield pb.TextStreamRequest(config=config)
        for piece in ["One sen", "tence."]:
            yield pb.TextStreamRequest(text=piece)

    async def stream(voice: str) -> tuple[float, int, list[str]]:
        chunks = [c async for c in server.stub.SynthesizeTextStream(requests(voice))]
        rate, seconds, _ = decode(b"".join(c.audio for c in chunks))
        return seconds, rate, [c.text for c in chunks if c.text]

    results = await asyncio.gather(*(stream(v) for v in ["Vivian", "Ryan", "Sohee", "Eric"]))
    assert backend.generate_calls == calls + 1
    for seconds, rate, texts in results:
        assert rate == RATE and texts == ["One sentence."]
        assert seconds == pytest.approx(SENTENCE_SECONDS, abs=0.01)
