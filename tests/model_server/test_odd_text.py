"""The odd-text corpus (tests/odd_text.py) over gRPC, on the session's model server
process: spoken, or INVALID_ARGUMENT with the field and the reason in the details;
never UNKNOWN or INTERNAL. Malformed bytes (invalid UTF-8) are INVALID_ARGUMENT too."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest

from harness.processes import Process, decode
from tests.odd_text import CORPUS, NOT_ENCODABLE, OddText
from voice_contract.errors import error_details
from voice_contract.v1 import tts_pb2 as pb
from voice_contract.v1 import tts_pb2_grpc
from voice_contract.wire import channel_options

SPOKEN = [c for c in CORPUS if c.refused is None]
REFUSED = [c for c in CORPUS if c.refused is not None and c.name not in NOT_ENCODABLE]


@pytest.fixture
async def stub(model_server: Process) -> AsyncIterator[tts_pb2_grpc.TextToSpeechStub]:
    async with grpc.aio.insecure_channel(model_server.address, options=channel_options()) as ch:
        yield tts_pb2_grpc.TextToSpeechStub(ch)


@pytest.mark.parametrize("case", REFUSED, ids=lambda case: case.name)
async def test_unspeakable_text_is_invalid_argument_with_its_reason(
    stub: tts_pb2_grpc.TextToSpeechStub, case: OddText
) -> None:
    request = pb.SynthesizeRequest(text=case.text, format=pb.AUDIO_FORMAT_WAV)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Synthesize(request, timeout=60)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, caught.value.details()
    details = error_details(caught.value.trailing_metadata())
    assert (details.field, details.reason) == ("text", f"TEXT_{str(case.refused).upper()}")


@pytest.mark.parametrize("case", SPOKEN, ids=lambda case: case.name)
async def test_odd_but_speakable_text_is_spoken(
    stub: tts_pb2_grpc.TextToSpeechStub, case: OddText
) -> None:
    request = pb.SynthesizeRequest(text=case.text, format=pb.AUDIO_FORMAT_WAV)
    reply = await stub.Synthesize(request, timeout=120)
    rate, seconds, channels = decode(reply.audio)
    assert (rate, channels) == (22050, 1)
    assert seconds == pytest.approx(reply.duration_seconds, abs=0.05)


async def test_invalid_utf8_is_invalid_argument_not_internal(model_server: Process) -> None:
    """What a lone surrogate becomes on the wire: bytes that are not UTF-8."""
    async with grpc.aio.insecure_channel(model_server.address) as channel:
        raw = channel.unary_unary("/voice_engine.v1.TextToSpeech/Synthesize", None, None)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await raw(b"\x0a\x08Hi \xed\xa0\x80 !", timeout=10)  # text = "Hi " + U+D800 + " !"
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "bad UTF-8" in (caught.value.details() or "")
    assert error_details(caught.value.trailing_metadata()).reason == "REQUEST_MALFORMED"
