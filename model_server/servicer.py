"""gRPC adapter: proto in, one `SpeechService` call, proto out; domain errors become
status codes. No synthesis logic lives here."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import grpc

from model_server.registry import ModelBusyError, ModelEntry, ModelNotFoundError, State
from model_server.service import (
    InvalidRequestError,
    NotFoundError,
    QueueFullError,
    SpeechRequest,
    SpeechService,
)
from shared.audio.formats import AudioFormat
from shared.logs import new_request_id, request_id_var
from voice_engine.v1 import tts_pb2 as pb
from voice_engine.v1 import tts_pb2_grpc

_FORMATS = {
    pb.AUDIO_FORMAT_UNSPECIFIED: AudioFormat.WAV,
    pb.AUDIO_FORMAT_WAV: AudioFormat.WAV,
    pb.AUDIO_FORMAT_PCM: AudioFormat.PCM,
    pb.AUDIO_FORMAT_MP3: AudioFormat.MP3,
    pb.AUDIO_FORMAT_OPUS: AudioFormat.OPUS,
    pb.AUDIO_FORMAT_FLAC: AudioFormat.FLAC,
}
_PB_FORMATS = {v: k for k, v in _FORMATS.items() if k != pb.AUDIO_FORMAT_UNSPECIFIED}
_STATES = {
    State.UNLOADED: pb.MODEL_STATE_UNLOADED,
    State.LOADING: pb.MODEL_STATE_LOADING,
    State.LOADED: pb.MODEL_STATE_LOADED,
}
_ERRORS: list[tuple[type[Exception], grpc.StatusCode]] = [
    (InvalidRequestError, grpc.StatusCode.INVALID_ARGUMENT),
    (NotFoundError, grpc.StatusCode.NOT_FOUND),
    (ModelNotFoundError, grpc.StatusCode.NOT_FOUND),
    (QueueFullError, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (ModelBusyError, grpc.StatusCode.FAILED_PRECONDITION),
]
F = TypeVar("F", bound=Callable[..., Any])


def _status(exc: Exception) -> grpc.StatusCode | None:
    return next((code for kind, code in _ERRORS if isinstance(exc, kind)), None)


def _request_scoped(method: F) -> F:
    """Tag logs with a request ID (the client's `x-request-id` metadata or a new one)
    and turn domain errors into gRPC status codes."""

    @functools.wraps(method)
    async def unary(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        _bind_request_id(context)
        try:
            return await method(self, request, context)
        except Exception as exc:
            if (code := _status(exc)) is None:
                raise
            await context.abort(code, str(exc))

    return unary  # type: ignore[return-value]


def _bind_request_id(context: grpc.aio.ServicerContext) -> None:
    metadata = dict(context.invocation_metadata() or ())
    request_id_var.set(str(metadata.get("x-request-id") or new_request_id()))


def to_request(message: pb.SynthesizeRequest) -> SpeechRequest:
    try:
        fmt = _FORMATS[message.format]
    except KeyError:
        raise InvalidRequestError(f"unknown audio format {message.format}") from None
    return SpeechRequest(
        text=message.text,
        model=message.model,
        voice=message.voice,
        language=message.language,
        format=fmt,
        sample_rate=message.sample_rate,
        speed=message.speed,
        instructions=message.instructions,
    )


def model_info(entry: ModelEntry, default: str) -> pb.ModelInfo:
    return pb.ModelInfo(
        name=entry.name,
        backend=entry.backend_name,
        state=_STATES[entry.state],
        memory_bytes=entry.memory_bytes,
        load_seconds=entry.load_seconds,
        last_used_unix=entry.last_used,
        in_flight=entry.in_flight,
        sample_rate=entry.backend.sample_rate,
        is_default=entry.name == default,
    )


class TextToSpeechServicer(tts_pb2_grpc.TextToSpeechServicer):
    def __init__(self, service: SpeechService) -> None:
        self.service = service

    @_request_scoped
    async def Synthesize(self, request: pb.SynthesizeRequest, context: Any) -> Any:
        speech = await self.service.synthesize(to_request(request))
        return pb.SynthesizeResponse(
            audio=speech.audio,
            format=_PB_FORMATS[speech.format],
            sample_rate=speech.sample_rate,
            duration_seconds=speech.duration,
            model=speech.model,
            voice=speech.voice,
        )

    async def SynthesizeStream(
        self, request: pb.SynthesizeRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.AudioChunk]:
        _bind_request_id(context)
        try:
            async for chunk in self.service.stream(to_request(request)):
                yield pb.AudioChunk(
                    audio=chunk.audio,
                    sequence=chunk.sequence,
                    format=_PB_FORMATS[chunk.format],
                    sample_rate=chunk.sample_rate,
                    duration_seconds=chunk.duration,
                    final=chunk.final,
                    model=chunk.model,
                    voice=chunk.voice,
                )
        except Exception as exc:
            if (code := _status(exc)) is None:
                raise
            await context.abort(code, str(exc))

    @_request_scoped
    async def ListVoices(self, request: pb.ListVoicesRequest, context: Any) -> Any:
        voices = [
            pb.Voice(
                name=v.name,
                model=model,
                languages=v.languages,
                gender=v.gender,
                description=v.description,
            )
            for model, v in self.service.voices(request.model)
        ]
        return pb.ListVoicesResponse(voices=voices)

    @_request_scoped
    async def ListModels(self, request: pb.ListModelsRequest, context: Any) -> Any:
        default = self.service.default_model
        entries = self.service.registry.entries()
        return pb.ListModelsResponse(models=[model_info(e, default) for e in entries])

    @_request_scoped
    async def LoadModel(self, request: pb.LoadModelRequest, context: Any) -> Any:
        entry = await self.service.registry.load(request.name)
        return model_info(entry, self.service.default_model)

    @_request_scoped
    async def UnloadModel(self, request: pb.UnloadModelRequest, context: Any) -> Any:
        entry = await self.service.registry.unload(request.name)
        return model_info(entry, self.service.default_model)

    @_request_scoped
    async def RegisterVoice(self, request: pb.RegisterVoiceRequest, context: Any) -> Any:
        model, v = await self.service.register_voice(
            request.model, request.name, request.audio, request.text
        )
        return pb.Voice(
            name=v.name,
            model=model,
            languages=v.languages,
            gender=v.gender,
            description=v.description,
        )
