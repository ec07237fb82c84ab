"""Failover against scripted model servers on real ports (deterministic): UNAVAILABLE
or busy before the first message moves the call to the next server, within the retry
budget; a stream cut after its first audio is an error, never replayed; a bad request
is not retried."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from grpc_health.v1 import _async as health_aio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from shared.audio.encoding import encode
from shared.audio.formats import AudioFormat
from tests.fleet.support import open_fleet
from tests.worker.fakes.common import tone
from voice_contract.errors import abort, rich_status
from voice_contract.v1 import tts_pb2 as pb
from voice_contract.v1 import tts_pb2_grpc
from voice_contract.wire import SERVICE_NAME
from voice_worker.errors import InvalidRequest, UpstreamUnavailable
from voice_worker.tts.base import SpeechOptions

WAV = SpeechOptions(format=AudioFormat.WAV)
AUDIO = encode(tone(0.5, 22050), 22050, AudioFormat.WAV)
Failure = tuple[grpc.StatusCode, str, str]  # code, reason, field
UNAVAILABLE: Failure = (grpc.StatusCode.UNAVAILABLE, "", "")
BUSY: Failure = (grpc.StatusCode.RESOURCE_EXHAUSTED, "SERVER_BUSY", "")
UNKNOWN_VOICE: Failure = (grpc.StatusCode.NOT_FOUND, "VOICE_NOT_FOUND", "voice")

pytestmark = pytest.mark.timeout(60)


class Scripted(tts_pb2_grpc.TextToSpeechServicer):
    """Plays `script` one synthesis at a time: a Failure, "ok", or "cut" (streams: one
    chunk, then UNAVAILABLE); lists one model, piper-joe, the default."""

    def __init__(self) -> None:
        self.script: list[Failure | str] = []
        self.calls = 0

    def _next(self) -> Failure | str:
        self.calls += 1
        return self.script.pop(0) if self.script else "ok"

    async def Synthesize(self, request: pb.SynthesizeRequest, context: Any) -> Any:
        action = self._next()
        if isinstance(action, tuple):
            await abort(context, rich_status(action[0], "scripted failure", *action[1:]))
        return pb.SynthesizeResponse(audio=AUDIO, format=pb.AUDIO_FORMAT_WAV, sample_rate=22050)

    async def SynthesizeStream(
        self, request: pb.SynthesizeRequest, context: Any
    ) -> AsyncIterator[pb.AudioChunk]:
        action = self._next()
        if isinstance(action, tuple):
            await abort(context, rich_status(action[0], "scripted failure", *action[1:]))
        yield pb.AudioChunk(audio=AUDIO[:1000], sequence=0, format=pb.AUDIO_FORMAT_WAV)
        if action == "cut":
            await context.abort(grpc.StatusCode.UNAVAILABLE, "going away")
        yield pb.AudioChunk(audio=AUDIO[1000:], sequence=1, format=pb.AUDIO_FORMAT_WAV, final=True)

    async def SynthesizeTextStream(
        self, requests: AsyncIterator[pb.TextStreamRequest], context: Any
    ) -> AsyncIterator[pb.AudioChunk]:
        action = self._next()
        await anext(requests)  # the config
        if isinstance(action, tuple):
            await abort(context, rich_status(action[0], "scripted failure", *action[1:]))
        yield pb.AudioChunk(sequence=0, format=pb.AUDIO_FORMAT_WAV)  # accepted
        text = "".join([r.text async for r in requests])
        yield pb.AudioChunk(audio=AUDIO, sequence=1, text=text, final=True)

    async def ListModels(self, request: pb.ListModelsRequest, context: Any) -> Any:
        model = pb.ModelInfo(
            name="piper-joe", backend="piper", state=pb.MODEL_STATE_LOADED, is_default=True
        )
        return pb.ListModelsResponse(models=[model])


@pytest.fixture
async def pair() -> AsyncIterator[list[tuple[Scripted, str]]]:
    servers, out = [], []
    for _ in range(2):
        server = grpc.aio.server()
        scripted = Scripted()
        tts_pb2_grpc.add_TextToSpeechServicer_to_server(scripted, server)
        health = health_aio.HealthServicer()
        await health.set(SERVICE_NAME, health_pb2.HealthCheckResponse.SERVING)
        health_pb2_grpc.add_HealthServicer_to_server(health, server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        servers.append(server)
        out.append((scripted, f"127.0.0.1:{port}"))
    try:
        yield out
    finally:
        for server in servers:
            await server.stop(grace=None)


async def drain(stream: AsyncIterator[bytes], received: list[bytes] | None = None) -> bytes:
    out = received if received is not None else []
    async for chunk in stream:
        out.append(chunk)
    return b"".join(out)


@pytest.mark.parametrize("failure", [UNAVAILABLE, BUSY], ids=["unavailable", "busy"])
@pytest.mark.parametrize("streamed", [True, False], ids=["stream", "unary"])
async def test_a_failure_before_the_first_message_moves_to_the_next_server(
    pair: list[tuple[Scripted, str]], failure: Failure, streamed: bool
) -> None:
    (a, _), (b, _) = pair
    async with open_fleet([address for _, address in pair]) as tts:
        first = tts.fleet.candidates("piper-joe")[0].address
        servers = dict((address, scripted) for scripted, address in pair)
        servers[first].script = [failure]  # the server picked first fails once
        if streamed:
            audio = await drain(tts.stream("Hello.", WAV))
        else:
            audio = (await tts.synthesize("Hello.", WAV)).audio
        assert audio == AUDIO
        assert (a.calls, b.calls) == (1, 1)  # the first server failed, the other answered
        assert tts.fleet.failovers == 1


async def test_a_stream_cut_after_its_first_audio_is_an_error_never_replayed(
    pair: list[tuple[Scripted, str]],
) -> None:
    (a, _), (b, _) = pair
    a.script, b.script = ["cut"], ["cut"]
    received: list[bytes] = []
    async with open_fleet([address for _, address in pair]) as tts:
        with pytest.raises(UpstreamUnavailable) as caught:
            await drain(tts.stream("Hello.", WAV), received)
        assert tts.fleet.failovers == 0
    assert received == [AUDIO[:1000]]  # the caller heard the start...
    assert a.calls + b.calls == 1  # ...so no server was asked again
    assert "after the audio had started" in caught.value.message


async def test_the_retry_budget_bounds_the_attempts(pair: list[tuple[Scripted, str]]) -> None:
    (a, _), (b, _) = pair
    a.script, b.script = [BUSY] * 5, [BUSY] * 5
    async with open_fleet([address for _, address in pair], max_retries=3) as tts:
        with pytest.raises(UpstreamUnavailable) as caught:
            await tts.synthesize("Hello.", WAV)
    assert a.calls + b.calls == 4  # the first try and three retries, over both servers
    assert a.calls == b.calls == 2
    assert caught.value.code == "upstream_busy"


async def test_unavailable_everywhere_ends_within_the_budget(
    pair: list[tuple[Scripted, str]],
) -> None:
    (a, _), (b, _) = pair
    a.script, b.script = [UNAVAILABLE] * 10, [UNAVAILABLE] * 10
    async with open_fleet([address for _, address in pair], max_retries=3) as tts:
        with pytest.raises(UpstreamUnavailable) as caught:
            await tts.synthesize("Hello.", WAV)
    assert a.calls >= 1 and b.calls >= 1  # both were tried...
    assert a.calls + b.calls <= 4  # ...and no more than the first try and three retries
    assert caught.value.code == "upstream_unavailable"


async def test_a_bad_request_is_not_retried(pair: list[tuple[Scripted, str]]) -> None:
    (a, _), (b, _) = pair
    a.script, b.script = [UNKNOWN_VOICE], [UNKNOWN_VOICE]
    async with open_fleet([address for _, address in pair]) as tts:
        with pytest.raises(InvalidRequest) as caught:
            await tts.synthesize("Hello.", WAV)
    assert (caught.value.param, caught.value.code) == ("voice", "voice_not_found")
    assert a.calls + b.calls == 1


async def test_no_server_reachable_is_unavailable_and_not_ready() -> None:
    from harness.processes import free_port

    async with open_fleet([f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]) as tts:
        with pytest.raises(UpstreamUnavailable):
            await tts.synthesize("Hello.", WAV)
        readiness = await tts.readiness()
        with pytest.raises(UpstreamUnavailable):
            await tts.models()
    assert not readiness.ready
    assert "unreachable" in readiness.detail


async def test_a_text_stream_fails_over_before_any_text_is_written(
    pair: list[tuple[Scripted, str]],
) -> None:
    """The text stream's first message is the server's acceptance: a server that
    refuses it (unavailable) is left before a word of the text has been taken."""
    (a, _), (b, _) = pair
    taken: list[str] = []

    async def texts() -> AsyncIterator[str]:
        for piece in ["Hello ", "there."]:
            taken.append(piece)
            yield piece

    async with open_fleet([address for _, address in pair]) as tts:
        first = tts.fleet.candidates("piper-joe")[0].address
        dict((address, scripted) for scripted, address in pair)[first].script = [UNAVAILABLE]
        pieces = [piece async for piece in tts.stream_text(texts(), WAV)]
        assert tts.fleet.failovers == 1
    assert (a.calls, b.calls) == (1, 1)
    assert taken == ["Hello ", "there."]  # each piece taken once, by the server that spoke
    assert [p.text for p in pieces] == ["Hello there."] and pieces[0].audio == AUDIO
