"""The default speech provider: the engine's own model server over gRPC.

One channel per process, shared by every request (HTTP/2 multiplexes the calls);
replies may exceed gRPC's 4 MB default, so the receive limit is raised. Each call has
a deadline. A call that fails before its first audio byte with a transient status
(UNAVAILABLE, RESOURCE_EXHAUSTED) is retried with backoff; once audio has been
sent to the client a stream is never retried (the client would hear it twice)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from shared.logs import request_id_var
from voice_engine.client import PB_FORMATS, channel_options
from voice_engine.v1 import tts_pb2 as pb
from voice_engine.v1 import tts_pb2_grpc
from voice_worker.errors import InvalidRequest, UpstreamError, VoiceError
from voice_worker.tts.base import Speech, SpeechOptions

NAME = "model server"
_RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED}


def map_error(exc: grpc.aio.AioRpcError) -> VoiceError:
    code, details = exc.code(), exc.details() or ""
    if code is grpc.StatusCode.INVALID_ARGUMENT:
        return InvalidRequest(details, code="invalid_value")
    if code is grpc.StatusCode.NOT_FOUND:
        param = "voice" if "voice" in details.lower() else "model"
        return InvalidRequest(details, param=param, code=f"{param}_not_found")
    if code is grpc.StatusCode.DEADLINE_EXCEEDED:
        return UpstreamError(NAME, "did not answer in time", status=504, code="upstream_timeout")
    if code in _RETRYABLE:
        busy = code is grpc.StatusCode.RESOURCE_EXHAUSTED
        return UpstreamError(
            NAME,
            f"{'busy' if busy else 'unavailable'} ({details})",
            status=503,
            code="upstream_busy" if busy else "upstream_unavailable",
            retry_after=1.0,
        )
    return UpstreamError(NAME, f"failed ({code.name}: {details})", code="upstream_error")


class ModelServerTTS:
    name = "model_server"
    native_formats = frozenset(PB_FORMATS)

    def __init__(self, target: str, timeout: float = 60.0, max_retries: int = 2) -> None:
        self.target = target
        self.timeout = timeout
        self.max_retries = max_retries
        self.channel = grpc.aio.insecure_channel(target, options=channel_options())
        self.stub = tts_pb2_grpc.TextToSpeechStub(self.channel)
        self.health = health_pb2_grpc.HealthStub(self.channel)

    def _request(self, text: str, options: SpeechOptions) -> pb.SynthesizeRequest:
        return pb.SynthesizeRequest(
            text=text,
            model=options.model,
            voice=options.voice,
            language=options.language,
            format=PB_FORMATS[options.format],
            sample_rate=options.sample_rate,
            speed=options.speed,
            instructions=options.instructions,
        )

    @staticmethod
    def _metadata() -> tuple[tuple[str, str], ...]:
        """The HTTP request's ID, so the model server's logs carry it too."""
        request_id = request_id_var.get()
        return (("x-request-id", request_id),) if request_id else ()

    async def _backoff(self, attempt: int) -> None:
        await asyncio.sleep(min(2.0, 0.1 * 2**attempt))

    async def synthesize(self, text: str, options: SpeechOptions) -> Speech:
        request = self._request(text, options)
        for attempt in range(self.max_retries + 1):
            try:
                reply = await self.stub.Synthesize(
                    request, timeout=self.timeout, metadata=self._metadata()
                )
            except grpc.aio.AioRpcError as exc:
                if exc.code() in _RETRYABLE and attempt < self.max_retries:
                    await self._backoff(attempt)
                    continue
                raise map_error(exc) from None
            return Speech(
                reply.audio,
                options.format,
                reply.sample_rate,
                reply.duration_seconds,
                reply.model,
                reply.voice,
            )
        raise AssertionError("unreachable")

    async def stream(self, text: str, options: SpeechOptions) -> AsyncIterator[bytes]:
        request = self._request(text, options)
        for attempt in range(self.max_retries + 1):
            started = False
            call = self.stub.SynthesizeStream(
                request, timeout=self.timeout, metadata=self._metadata()
            )
            try:
                async for chunk in call:
                    if chunk.audio:
                        started = True
                        yield chunk.audio
                return
            except grpc.aio.AioRpcError as exc:
                if not started and exc.code() in _RETRYABLE and attempt < self.max_retries:
                    await self._backoff(attempt)
                    continue
                raise map_error(exc) from None
            finally:
                call.cancel()

    async def voices(self) -> list[dict[str, object]]:
        try:
            reply = await self.stub.ListVoices(pb.ListVoicesRequest(), timeout=5)
        except grpc.aio.AioRpcError as exc:
            raise map_error(exc) from None
        return [
            {
                "voice_id": v.name,
                "name": v.name,
                "model": v.model,
                "languages": list(v.languages),
                "gender": v.gender,
                "description": v.description,
            }
            for v in reply.voices
        ]

    async def models(self) -> list[dict[str, object]]:
        try:
            reply = await self.stub.ListModels(pb.ListModelsRequest(), timeout=5)
        except grpc.aio.AioRpcError as exc:
            raise map_error(exc) from None
        return [
            {
                "id": m.name,
                "backend": m.backend,
                "default": m.is_default,
                "sample_rate": m.sample_rate,
            }
            for m in reply.models
        ]

    async def ready(self) -> tuple[bool, str]:
        try:
            reply = await self.health.Check(health_pb2.HealthCheckRequest(), timeout=1.0)
        except grpc.aio.AioRpcError as exc:
            return False, f"{exc.code().name}: {exc.details()}"
        serving = reply.status == health_pb2.HealthCheckResponse.SERVING
        return serving, health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)

    async def close(self) -> None:
        await self.channel.close(grace=None)
