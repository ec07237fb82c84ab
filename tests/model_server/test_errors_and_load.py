"""Bad input, a full queue, deadlines and cancellation: each with its status code and
message, on an in-process server on a real port."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from model_server.backends.piper import PiperBackend
from tests.model_server.conftest import CountingPiper
from tests.model_server.servers import served
from voice_engine.v1 import tts_pb2 as pb

LONG = " ".join(f"Sentence {i} is long enough to take the voice a little while." for i in range(40))


@pytest.mark.parametrize(
    ("request_fields", "code", "message"),
    [
        ({"text": ""}, grpc.StatusCode.INVALID_ARGUMENT, "text is empty"),
        ({"text": "   \n"}, grpc.StatusCode.INVALID_ARGUMENT, "text is empty"),
        ({"text": "x" * 101}, grpc.StatusCode.INVALID_ARGUMENT, "101 characters; the limit is 100"),
        ({"text": "hi", "model": "nope"}, grpc.StatusCode.NOT_FOUND, "available models: piper-joe"),
        ({"text": "hi", "voice": "bob"}, grpc.StatusCode.NOT_FOUND, "available voices: joe"),
        ({"text": "hi", "speed": 9}, grpc.StatusCode.INVALID_ARGUMENT, "speed 9 is out of range"),
        ({"text": "hi", "sample_rate": 4000}, grpc.StatusCode.INVALID_ARGUMENT, "sample_rate 4000"),
        ({"text": "hi", "language": "de"}, grpc.StatusCode.INVALID_ARGUMENT, "does not speak 'de'"),
        (
            {"text": "hi", "instructions": "whisper"},
            grpc.StatusCode.INVALID_ARGUMENT,
            "instructions",
        ),
        ({"text": "hi", "format": 42}, grpc.StatusCode.INVALID_ARGUMENT, "unknown audio format 42"),
    ],
)
async def test_bad_requests_get_a_clear_status(
    request_fields: dict[str, object], code: grpc.StatusCode, message: str
) -> None:
    async with served(max_text_chars=100) as server:
        request = pb.SynthesizeRequest(**request_fields)  # type: ignore[arg-type]

        async def drain_stream() -> None:
            async for _ in server.stub.SynthesizeStream(request, timeout=10):
                pass

        for call in (server.stub.Synthesize(request, timeout=10), drain_stream()):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await call
            assert caught.value.code() == code
            assert message in (caught.value.details() or "")


async def test_english_language_names_are_accepted() -> None:
    async with served() as server:
        for language in ("en", "en-US", "English", "auto"):
            reply = await server.stub.Synthesize(
                pb.SynthesizeRequest(text="Hi.", language=language)
            )
            assert reply.duration_seconds > 0.2


async def test_past_max_queue_requests_get_resource_exhausted() -> None:
    async with served(max_queue=2) as server:
        streams = [server.stub.SynthesizeStream(pb.SynthesizeRequest(text=LONG)) for _ in range(2)]
        firsts = [await s.read() for s in streams]  # both admitted and producing audio
        assert all(f.audio for f in firsts)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await server.stub.Synthesize(pb.SynthesizeRequest(text="One more."), timeout=10)
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "2 requests in progress (max_queue=2)" in (caught.value.details() or "")
        for s in streams:
            s.cancel()
        await asyncio.sleep(0.3)
        reply = await server.stub.Synthesize(pb.SynthesizeRequest(text="Room again."), timeout=30)
        assert reply.duration_seconds > 0.3


async def instrument(server) -> CountingPiper:
    """Swap the served Piper voice for a counting one (same weights, already loaded)."""
    entry = server.running.service.registry.entry("piper-joe")
    counting = CountingPiper()
    assert isinstance(entry.backend, PiperBackend)
    counting._voice, counting._solo = entry.backend._voice, entry.backend._solo
    entry.backend = counting
    return counting


async def test_deadline_stops_the_synthesis() -> None:
    async with served() as server:
        counting = await instrument(server)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await server.stub.Synthesize(pb.SynthesizeRequest(text=LONG), timeout=0.3)
        assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        await asyncio.sleep(1.0)
        ran = counting.jobs_run
        await asyncio.sleep(1.0)
        assert counting.jobs_run == ran, "synthesis went on after the deadline"
        assert ran < 20, f"{ran} of 40 sentences synthesized for an expired request"
        entry = server.running.service.registry.entry("piper-joe")
        assert entry.in_flight == 0 and server.running.service.in_progress == 0


async def test_cancelled_stream_stops_after_the_sentence_in_progress() -> None:
    async with served() as server:
        counting = await instrument(server)
        call = server.stub.SynthesizeStream(pb.SynthesizeRequest(text=LONG))
        first = await call.read()
        assert first.sequence == 0 and first.audio.startswith(b"RIFF")
        call.cancel()
        await asyncio.sleep(1.0)
        ran = counting.jobs_run
        await asyncio.sleep(0.5)
        assert counting.jobs_run == ran, "synthesis went on after the cancel"
        # the server runs a sentence or two ahead of what the client has read, no more
        assert ran <= 6, f"{ran} of 40 sentences synthesized for a cancelled stream"
        assert server.running.service.in_progress == 0
        assert server.running.service.registry.entry("piper-joe").in_flight == 0


async def test_unload_while_busy_is_refused_then_load_and_unload_work() -> None:
    async with served() as server:
        stream = server.stub.SynthesizeStream(pb.SynthesizeRequest(text=LONG))
        await stream.read()
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await server.stub.UnloadModel(pb.UnloadModelRequest(name="piper-joe"))
        assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        stream.cancel()
        await asyncio.sleep(0.3)
        info = await server.stub.UnloadModel(pb.UnloadModelRequest(name="piper-joe"))
        assert info.state == pb.MODEL_STATE_UNLOADED and info.memory_bytes == 0
        info = await server.stub.LoadModel(pb.LoadModelRequest(name="piper-joe"))
        assert info.state == pb.MODEL_STATE_LOADED and info.memory_bytes > 0
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await server.stub.LoadModel(pb.LoadModelRequest(name="nope"))
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_concurrent_requests_all_complete_with_their_own_audio() -> None:
    async with served() as server:
        texts = [f"Request number {i} says its own words." for i in range(12)]
        replies = await asyncio.gather(
            *(
                server.stub.Synthesize(pb.SynthesizeRequest(text=t, format=pb.AUDIO_FORMAT_PCM))
                for t in texts
            )
        )
        assert all(r.duration_seconds > 1.0 for r in replies)
        assert len({r.audio for r in replies}) == 12
