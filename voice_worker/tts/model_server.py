"""The default speech provider: the engine's own model server over gRPC.

One channel per process, shared by every request (HTTP/2 multiplexes the calls), with
the contract's channel options: raised message limits, and gRPC's own retry policy
(UNAVAILABLE and RESOURCE_EXHAUSTED, with backoff, only while the server has sent
nothing, so a stream is never retried after its first audio byte). Each call has a
deadline. Failures are read from the status's rich details (the field at fault, the
reason), never from its message."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from shared.logs import request_id_var
from voice_contract.channels import ChannelSecurity, open_channel
from voice_contract.errors import error_details
from voice_contract.v1 import tts_pb2 as pb
from voice_contract.v1 import tts_pb2_grpc
from voice_contract.wire import PB_FORMATS, channel_options
from voice_worker.errors import (
    InvalidRequest,
    UpstreamFailed,
    UpstreamTimeout,
    UpstreamUnavailable,
    VoiceError,
)
from voice_worker.lifecycle import Readiness
from voice_worker.tts.base import (
    ModelDescription,
    Speech,
    SpeechOptions,
    SpeechPiece,
    VoiceDescription,
)
from voice_worker.tts.text_call import TextCall, synthesis_settings

NAME = "model server"
LIST_TIMEOUT = 5.0


def map_error(exc: grpc.aio.AioRpcError) -> VoiceError:
    """The worker's error for a failed call, from its code and rich details."""
    code, message = exc.code(), exc.details() or ""
    details = error_details(exc.trailing_metadata())
    param = details.field or None
    if code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND):
        return InvalidRequest(
            message, param=param, code=(details.reason or "invalid_value").lower()
        )
    if code is grpc.StatusCode.DEADLINE_EXCEEDED:
        return UpstreamTimeout(NAME, "did not answer in time", code="upstream_timeout")
    if code is grpc.StatusCode.RESOURCE_EXHAUSTED:
        return UpstreamUnavailable(NAME, f"busy ({message})", code="upstream_busy", retry_after=1)
    if code is grpc.StatusCode.UNAVAILABLE:
        return UpstreamUnavailable(
            NAME, f"unavailable ({message})", code="upstream_unavailable", retry_after=1
        )
    reason = f" [{details.reason}]" if details.reason else ""
    return UpstreamFailed(NAME, f"failed ({code.name}: {message}){reason}")


def synthesis_request(text: str, options: SpeechOptions) -> pb.SynthesizeRequest:
    return synthesis_settings(options).request(text)


def request_metadata() -> tuple[tuple[str, str], ...]:
    """The HTTP request's ID, so the model server's logs carry it too."""
    request_id = request_id_var.get()
    return (("x-request-id", request_id),) if request_id else ()


def speech_of(reply: pb.SynthesizeResponse, options: SpeechOptions) -> Speech:
    return Speech(
        reply.audio,
        options.format,
        reply.sample_rate,
        reply.duration_seconds,
        reply.model,
        reply.voice,
    )


def voice_description(v: pb.Voice) -> VoiceDescription:
    return VoiceDescription(
        voice_id=v.name,
        name=v.name,
        model=v.model,
        languages=tuple(v.languages),
        gender=v.gender,
        description=v.description,
    )


def model_description(m: pb.ModelInfo) -> ModelDescription:
    return ModelDescription(
        name=m.name,
        backend=m.backend,
        sample_rate=m.sample_rate,
        is_default=m.is_default,
        state=pb.ModelState.Name(m.state).removeprefix("MODEL_STATE_").lower(),
    )


class ModelServerTTS:
    name = "model_server"
    native_formats = frozenset(PB_FORMATS)

    def __init__(
        self,
        target: str,
        timeout: float = 60.0,
        max_retries: int = 2,
        security: ChannelSecurity | None = None,
    ) -> None:
        self.target = target
        self.timeout = timeout
        self.channel = open_channel(target, channel_options(max_retries), security)
        self.stub = tts_pb2_grpc.TextToSpeechStub(self.channel)
        self.health = health_pb2_grpc.HealthStub(self.channel)

    async def synthesize(self, text: str, options: SpeechOptions) -> Speech:
        try:
            reply = await self.stub.Synthesize(
                synthesis_request(text, options), timeout=self.timeout, metadata=request_metadata()
            )
        except grpc.aio.AioRpcError as exc:
            raise map_error(exc) from None
        return speech_of(reply, options)

    async def stream(self, text: str, options: SpeechOptions) -> AsyncIterator[bytes]:
        call = self.stub.SynthesizeStream(
            synthesis_request(text, options), timeout=self.timeout, metadata=request_metadata()
        )
        try:
            async for chunk in call:
                if chunk.audio:
                    yield chunk.audio
        except grpc.aio.AioRpcError as exc:
            raise map_error(exc) from None
        finally:
            call.cancel()

    async def stream_text(
        self, texts: AsyncIterator[str], options: SpeechOptions
    ) -> AsyncGenerator[SpeechPiece, None]:
        """SynthesizeTextStream (tts.text_call): the text written as it comes, each
        sentence spoken as soon as its end is certain."""
        try:
            call = await TextCall(self.stub, options, self.timeout, request_metadata()).accepted()
            async with contextlib.aclosing(call.pieces(texts)) as pieces:
                async for piece in pieces:
                    yield piece
        except grpc.aio.AioRpcError as exc:
            raise map_error(exc) from None

    async def voices(self) -> list[VoiceDescription]:
        try:
            reply = await self.stub.ListVoices(pb.ListVoicesRequest(), timeout=LIST_TIMEOUT)
        except grpc.aio.AioRpcError as exc:
            raise map_error(exc) from None
        return [voice_description(v) for v in reply.voices]

    async def models(self) -> list[ModelDescription]:
        try:
            reply = await self.stub.ListModels(pb.ListModelsRequest(), timeout=LIST_TIMEOUT)
        except grpc.aio.AioRpcError as exc:
            raise map_error(exc) from None
        return [model_description(m) for m in reply.models]

    async def readiness(self) -> Readiness:
        try:
            reply = await self.health.Check(health_pb2.HealthCheckRequest(), timeout=1.0)
        except grpc.aio.AioRpcError as exc:
            return Readiness(False, f"{exc.code().name}: {exc.details()}")
        serving = reply.status == health_pb2.HealthCheckResponse.SERVING
        return Readiness(serving, health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))

    async def close(self) -> None:
        await self.channel.close(grace=None)
