"""Bad input, a full queue, deadlines and cancellation: each with its status code and
message, on an in-process server on a real port."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from model_server.backends.piper import PiperBackend
from tests.model_server.conftest import CountingPiper
from tests.model_server.servers import Served, served
from voice_contract.errors import error_details
from voice_contract.v1 import tts_pb2 as pb

INVALID, NOT_FOUND = grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND

LONG = " ".join(f"Sentence {i} is long enough to take the voice a little while." for i in range(40))


@pytest.mark.parametrize(
    ("request_fields", "code", "message", "field", "reason"),
    [
        ({"text": ""}, INVALID, "text is empty", "text", "TEXT_EMPTY"),
        ({"text": "   \n"}, INVALID, "text is empty", "text", "TEXT_EMPTY"),
        ({"text": "x" * 101}, INVALID, "101 characters; at most 100", "text", "TEXT_TOO_LONG"),
        ({"text": "a\x00b"}, INVALID, "(U+0000) at position 1", "text", "TEXT_CONTROL_CHARACTER"),
        ({"text": "!!! ..."}, INVALID, "nothing to speak", "text", "TEXT_NOT_SPEAKABLE"),
        ({"text": "hi", "model": "no"}, NOT_FOUND, "models: piper-joe", "model", "MODEL_NOT_FOUND"),
        ({"text": "hi", "voice": "bob"}, NOT_FOUND, "voices: joe", "voice", "VOICE_NOT_FOUND"),
        ({"text": "hi", "speed": 9}, INVALID, "speed 9 is out", "speed", "SPEED_OUT_OF_RANGE"),
        (
            {"text": "hi", "sample_rate": 4000},
            INVALID,
            "sample_rate 4000",
            "sample_rate",
            "SAMPLE_RATE_OUT_OF_RANGE",
        ),
        (
            {"text": "hi", "format": pb.AUDIO_FORMAT_MP3, "sample_rate": 29756},
            INVALID,
            "not one mp3 can be encoded at",
            "sample_rate",
            "SAMPLE_RATE_OUT_OF_RANGE",
        ),
        (
            {"text": "hi", "language": "de"},
            INVALID,
            "does not speak 'de'",
            "language",
            "LANGUAGE_NOT_SUPPORTED",
        ),
        (
            {"text": "hi", "instructions": "whisper"},
            INVALID,
            "instructions",
            "instructions",
            "INSTRUCTIONS_NOT_SUPPORTED",
        ),
        ({"text": "hi", "format": 42}, INVALID, "audio format code 42", "format", "FORMAT_UNKNOWN"),
    ],
)
async def test_bad_requests_get_a_clear_status_and_details(
    request_fields: dict[str, object],
    code: grpc.StatusCode,
    message: str,
    field: str,
    reason: str,
) -> None:
    """The status code and message for people; the field and the reason for programs
    (rich error details), on the unary and the streaming call alike."""
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
            details = error_details(caught.value.trailing_metadata())
            assert (details.field, details.reason) == (field, reason)


async def test_english_language_names_are_accepted() -> None:
    async with served() as server:
        for language in ("en", "en-US", "English", "auto"):
            reply = await server.stub.Synthesize(
                pb.SynthesizeRequest(text="Hi.", language=language)
            )
            assert reply.duration_seconds > 0.2


async def test_past_max_in_flight_requests_get_resource_exhausted() -> None:
    async with served(max_in_flight=2) as server:
        streams = [server.stub.SynthesizeStream(pb.SynthesizeRequest(text=LONG)) for _ in range(2)]
        firsts = [await s.read() for s in streams]  # both admitted and producing audio
        assert all(f.audio for f in firsts)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await server.stub.Synthesize(pb.SynthesizeRequest(text="One more."), timeout=10)
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "2 requests in progress (max_in_flight=2)" in (caught.value.details() or "")
        for s in streams:
            s.cancel()
        await asyncio.sleep(0.3)
        reply = await server.stub.Synthesize(pb.SynthesizeRequest(text="Room again."), timeout=30)
        assert reply.duration_seconds > 0.3


async def instrument(server: Served) -> CountingPiper:
    """Swap the served Piper voice for a counting one (same weights, already loaded)."""
    entry = server.running.synthesizer.registry.entry("piper-joe")
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
        entry = server.running.synthesizer.registry.entry("piper-joe")
        assert entry.in_flight == 0 and server.running.synthesizer.in_progress == 0


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
        synthesizer = server.running.synthesizer
        for _ in range(50):  # the call's admission is given back once its handler unwinds
            if (
                synthesizer.in_progress == 0
                and synthesizer.registry.entry("piper-joe").in_flight == 0
            ):
                break
            await asyncio.sleep(0.1)
        assert synthesizer.in_progress == 0
        assert synthesizer.registry.entry("piper-joe").in_flight == 0


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
