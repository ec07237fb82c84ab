"""gRPC adapter: proto in, one `Synthesizer` call, proto out. Every method runs inside
`_call`, which binds the request ID for the logs and ends any failure with the status
from the one error table (model_server/status.py). A request that does not parse (a
string field that is not UTF-8, say) reaches the method as `Malformed` and is answered
INVALID_ARGUMENT, not gRPC's own INTERNAL. No synthesis logic lives here."""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

import grpc
from google.protobuf.message import DecodeError

from model_server.backends.base import VoiceInfo
from model_server.errors import InvalidRequestError
from model_server.registry import ModelEntry, State
from model_server.status import to_status
from model_server.synthesizer import SpeechChunk, SpeechRequest, Synthesizer, VoiceSettings
from shared.audio.formats import AudioFormat
from shared.logs import new_request_id, request_id_var
from voice_contract.errors import abort
from voice_contract.reasons import Reason
from voice_contract.v1 import tts_pb2 as pb
from voice_contract.v1 import tts_pb2_grpc
from voice_contract.wire import PB_FORMATS, SERVICE_NAME, format_from_pb

_STATES = {
    State.UNLOADED: pb.MODEL_STATE_UNLOADED,
    State.LOADING: pb.MODEL_STATE_LOADING,
    State.LOADED: pb.MODEL_STATE_LOADED,
}
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Malformed:
    """A request message that failed to parse, and why."""

    reason: str

    def check(self) -> NoReturn:
        raise InvalidRequestError(
            f"the request is not a valid message ({self.reason})",
            reason=Reason.REQUEST_MALFORMED,
        )


def _lenient(parse: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    def deserialize(data: bytes) -> Any:
        try:
            return parse(data)
        except DecodeError as exc:
            return Malformed(str(exc) or "it does not decode")

    return deserialize


def register(servicer: TextToSpeechServicer, server: grpc.aio.Server) -> None:
    """Add the service to `server` as the generated code does, but with deserializers
    that hand a malformed request to the method (as `Malformed`) instead of failing."""
    captured: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}

    class Capture:
        def add_generic_rpc_handlers(self, handlers: object) -> None:
            pass

        def add_registered_method_handlers(
            self, service: str, handlers: dict[str, grpc.RpcMethodHandler[Any, Any]]
        ) -> None:
            captured.update(handlers)

    tts_pb2_grpc.add_TextToSpeechServicer_to_server(servicer, Capture())
    handlers = {
        name: handler._replace(request_deserializer=_lenient(parse))  # type: ignore[attr-defined]
        for name, handler in captured.items()
        if (parse := handler.request_deserializer) is not None
    }
    assert len(handlers) == len(captured), "every method has a request deserializer"
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),))


def _call(method: F) -> F:
    """Request ID in, status out, for unary and server-streaming methods alike."""
    if inspect.isasyncgenfunction(method):

        @functools.wraps(method)
        async def streaming(
            self: Any, request: Any, context: grpc.aio.ServicerContext[Any, Any]
        ) -> AsyncIterator[Any]:
            _bind_request_id(context)
            try:
                if isinstance(request, Malformed):
                    request.check()
                async for item in method(self, request, context):
                    yield item
            except Exception as exc:
                await abort(context, to_status(exc))

        return streaming  # type: ignore[return-value]

    @functools.wraps(method)
    async def unary(self: Any, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        _bind_request_id(context)
        try:
            if isinstance(request, Malformed):
                request.check()
            return await method(self, request, context)
        except Exception as exc:
            await abort(context, to_status(exc))

    return unary  # type: ignore[return-value]


def _bind_request_id(context: grpc.aio.ServicerContext[Any, Any]) -> None:
    metadata = dict(context.invocation_metadata() or ())
    request_id_var.set(str(metadata.get("x-request-id") or new_request_id()))


def audio_format(value: int) -> AudioFormat:
    """The format a request names; InvalidRequestError (field `format`) when unknown."""
    try:
        return format_from_pb(value)
    except ValueError as exc:
        raise InvalidRequestError(str(exc), reason=Reason.FORMAT_UNKNOWN, field="format") from None


def to_request(message: pb.SynthesizeRequest) -> SpeechRequest:
    return SpeechRequest(
        text=message.text,
        model=message.model,
        voice=message.voice,
        language=message.language,
        format=audio_format(message.format),
        sample_rate=message.sample_rate,
        speed=message.speed,
        instructions=message.instructions,
    )


def to_settings(first: pb.TextStreamRequest | Malformed | None) -> VoiceSettings:
    """The settings of a text stream, from its first message."""
    if isinstance(first, Malformed):
        first.check()
    if first is None or first.WhichOneof("kind") != "config":
        raise InvalidRequestError(
            "the first message of a text stream must carry its config (model, voice, format)",
            reason=Reason.REQUEST_MALFORMED,
            field="config",
        )
    config = first.config
    return VoiceSettings(
        model=config.model,
        voice=config.voice,
        language=config.language,
        format=audio_format(config.format),
        sample_rate=config.sample_rate,
        speed=config.speed,
        instructions=config.instructions,
    )


async def text_pieces(
    requests: AsyncIterator[pb.TextStreamRequest | Malformed],
) -> AsyncIterator[str]:
    """The text of the messages after the first; a second config is an error."""
    async for message in requests:
        if isinstance(message, Malformed):
            message.check()
        elif message.WhichOneof("kind") == "config":
            raise InvalidRequestError(
                "a text stream has one config, in its first message",
                reason=Reason.REQUEST_MALFORMED,
                field="config",
            )
        elif message.text:
            yield message.text


def chunk_message(chunk: SpeechChunk) -> pb.AudioChunk:
    return pb.AudioChunk(
        audio=chunk.audio,
        sequence=chunk.sequence,
        format=PB_FORMATS[chunk.format],
        sample_rate=chunk.sample_rate,
        duration_seconds=chunk.duration,
        final=chunk.final,
        model=chunk.model,
        voice=chunk.voice,
        text=chunk.text,
        text_start_seconds=chunk.text_start,
        sentence_end=chunk.sentence_end,
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


def voice_message(model: str, voice: VoiceInfo) -> pb.Voice:
    return pb.Voice(
        name=voice.name,
        model=model,
        languages=voice.languages,
        gender=voice.gender,
        description=voice.description,
    )


class TextToSpeechServicer(tts_pb2_grpc.TextToSpeechServicer):
    def __init__(self, synthesizer: Synthesizer) -> None:
        self.synthesizer = synthesizer

    @_call
    async def Synthesize(self, request: pb.SynthesizeRequest, context: Any) -> Any:
        speech = await self.synthesizer.synthesize(to_request(request))
        return pb.SynthesizeResponse(
            audio=speech.audio,
            format=PB_FORMATS[speech.format],
            sample_rate=speech.sample_rate,
            duration_seconds=speech.duration,
            model=speech.model,
            voice=speech.voice,
        )

    @_call
    async def SynthesizeStream(
        self, request: pb.SynthesizeRequest, context: Any
    ) -> AsyncIterator[pb.AudioChunk]:
        async for chunk in self.synthesizer.stream(to_request(request)):
            yield chunk_message(chunk)

    @_call
    async def SynthesizeTextStream(
        self, requests: AsyncIterator[pb.TextStreamRequest | Malformed], context: Any
    ) -> AsyncIterator[pb.AudioChunk]:
        first = await anext(requests, None)
        settings = to_settings(first)
        first_clause = isinstance(first, pb.TextStreamRequest) and first.config.first_clause
        pieces = text_pieces(requests)
        async for chunk in self.synthesizer.stream_text(
            settings, pieces, first_clause=first_clause
        ):
            yield chunk_message(chunk)

    @_call
    async def ListVoices(self, request: pb.ListVoicesRequest, context: Any) -> Any:
        voices = self.synthesizer.voices(request.model)
        return pb.ListVoicesResponse(voices=[voice_message(model, v) for model, v in voices])

    @_call
    async def ListModels(self, request: pb.ListModelsRequest, context: Any) -> Any:
        default = self.synthesizer.default_model
        entries = self.synthesizer.registry.entries()
        return pb.ListModelsResponse(models=[model_info(e, default) for e in entries])

    @_call
    async def LoadModel(self, request: pb.LoadModelRequest, context: Any) -> Any:
        entry = await self.synthesizer.registry.load(request.name)
        return model_info(entry, self.synthesizer.default_model)

    @_call
    async def UnloadModel(self, request: pb.UnloadModelRequest, context: Any) -> Any:
        entry = await self.synthesizer.registry.unload(request.name)
        return model_info(entry, self.synthesizer.default_model)

    @_call
    async def RegisterVoice(self, request: pb.RegisterVoiceRequest, context: Any) -> Any:
        model, voice = await self.synthesizer.register_voice(
            request.model, request.name, request.audio, request.text
        )
        return voice_message(model, voice)
