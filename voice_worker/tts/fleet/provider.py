"""`FleetTTS`: the model-server speech provider over several servers
(`VOICE_TTS__MODEL_SERVERS`). The same capabilities as `ModelServerTTS` (voices,
models, readiness), so the routers, the catalogue, the health probe and the
conversation engine do not know there is more than one server:

- each synthesis goes through `Fleet.route` (the model's name, or a clear error) and
  `Fleet.call` (the best server; failover before the first message);
- voices and models are the union over the servers that serve now;
- ready while at least one serving server can serve the fleet's default model.

A call kind is one `start(member)` function that opens the call on `member.stub` and
awaits the first message, passed to `Fleet.call`; the text stream's first message is
the server's acceptance, so it fails over before any text is written."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncGenerator, AsyncIterator, Sequence

import grpc

from voice_contract.channels import ChannelSecurity
from voice_contract.v1 import tts_pb2 as pb
from voice_contract.wire import PB_FORMATS
from voice_worker.errors import UpstreamUnavailable
from voice_worker.lifecycle import Readiness
from voice_worker.tts.base import (
    ModelDescription,
    Speech,
    SpeechOptions,
    SpeechPiece,
    VoiceDescription,
)
from voice_worker.tts.fleet.discovery import Discovery, Resolver, system_resolver
from voice_worker.tts.fleet.fleet import Fleet
from voice_worker.tts.fleet.members import Member
from voice_worker.tts.model_server import (
    LIST_TIMEOUT,
    NAME,
    model_description,
    request_metadata,
    speech_of,
    synthesis_request,
    voice_description,
)
from voice_worker.tts.settings import TTSSettings
from voice_worker.tts.text_call import TextCall

Stream = grpc.aio.UnaryStreamCall[pb.SynthesizeRequest, pb.AudioChunk]
#: most resident first, for the union of one model's state across servers
_RESIDENCY = {"loaded": 0, "loading": 1, "unloaded": 2}


class FleetTTS:
    name = "model_server"
    native_formats = frozenset(PB_FORMATS)

    def __init__(self, fleet: Fleet, timeout: float = 60.0) -> None:
        self.fleet = fleet
        self.timeout = timeout

    @classmethod
    def from_settings(
        cls,
        settings: TTSSettings,
        resolver: Resolver = system_resolver,
        security: ChannelSecurity | None = None,
    ) -> FleetTTS:
        f = settings.fleet
        fleet = Fleet(
            Discovery(settings.model_servers, resolver),
            refresh_seconds=f.refresh_seconds,
            resolve_seconds=f.resolve_seconds,
            list_timeout=f.list_timeout_seconds,
            max_retries=settings.max_retries,
            spread_in_flight=f.spread_in_flight,
            default=f.default_model,
            security=security,
        )
        return cls(fleet, settings.timeout_seconds)

    async def _request(self, text: str, options: SpeechOptions) -> tuple[str, pb.SynthesizeRequest]:
        model = await self.fleet.route(options.model)
        return model, synthesis_request(text, dataclasses.replace(options, model=model))

    async def synthesize(self, text: str, options: SpeechOptions) -> Speech:
        model, request = await self._request(text, options)
        metadata = request_metadata()

        async def once(member: Member) -> pb.SynthesizeResponse:
            reply: pb.SynthesizeResponse = await member.stub.Synthesize(
                request, timeout=self.timeout, metadata=metadata
            )
            return reply

        async with self.fleet.call(model, once) as reply:
            return speech_of(reply, options)

    async def stream(self, text: str, options: SpeechOptions) -> AsyncIterator[bytes]:
        model, request = await self._request(text, options)
        metadata = request_metadata()

        async def open_stream(member: Member) -> tuple[Stream, pb.AudioChunk | None]:
            call: Stream = member.stub.SynthesizeStream(
                request, timeout=self.timeout, metadata=metadata
            )
            try:
                return call, await _next_chunk(call)
            except BaseException:
                call.cancel()
                raise

        async with self.fleet.call(model, open_stream) as (call, chunk):
            try:
                while chunk is not None:
                    if chunk.audio:
                        yield chunk.audio
                    chunk = await _next_chunk(call)
            finally:
                call.cancel()

    async def stream_text(
        self, texts: AsyncIterator[str], options: SpeechOptions
    ) -> AsyncGenerator[SpeechPiece, None]:
        """SynthesizeTextStream on the best server: it fails over until a server has
        accepted the config, before any text is written (tts.text_call)."""
        model = await self.fleet.route(options.model)
        routed = dataclasses.replace(options, model=model)
        metadata = request_metadata()

        async def open_call(member: Member) -> TextCall:
            return await TextCall(member.stub, routed, self.timeout, metadata).accepted()

        async with (
            self.fleet.call(model, open_call) as call,
            contextlib.aclosing(call.pieces(texts)) as pieces,
        ):
            async for piece in pieces:
                yield piece

    async def voices(self) -> list[VoiceDescription]:
        serving = await self._serving()
        replies = await asyncio.gather(
            *(m.stub.ListVoices(pb.ListVoicesRequest(), timeout=LIST_TIMEOUT) for m in serving),
            return_exceptions=True,
        )
        answered = [r for r in replies if isinstance(r, pb.ListVoicesResponse)]
        if not answered:
            raise self._unavailable()
        seen: dict[tuple[str, str], VoiceDescription] = {}
        for reply in answered:
            for v in reply.voices:
                seen.setdefault((v.model, v.name), voice_description(v))
        return sorted(seen.values(), key=lambda v: (v.model, v.name))

    async def models(self) -> list[ModelDescription]:
        serving = await self._serving()
        default = self.fleet.default_model()
        return merge_models(
            [[model_description(m) for m in s.models.values()] for s in serving], default
        )

    async def readiness(self) -> Readiness:
        await self.fleet.ready()
        default = self.fleet.default_model()
        able = [m for m in self.fleet.serving() if default in m.models]
        total = len(self.fleet.members)
        detail = (
            f"{len(able)} of {total} model servers can serve the default model {default!r}"
            if default
            else "no model server has answered"
        )
        return Readiness(bool(able), f"{detail}: {self.fleet.summary()}")

    async def _serving(self) -> list[Member]:
        await self.fleet.ready()
        serving = self.fleet.serving()
        if not serving:
            raise self._unavailable()
        return serving

    def _unavailable(self) -> UpstreamUnavailable:
        return UpstreamUnavailable(
            NAME,
            f"unavailable (no model server is serving: {self.fleet.summary()})",
            code="upstream_unavailable",
            retry_after=1,
        )

    async def close(self) -> None:
        await self.fleet.close()


def merge_models(
    per_server: Sequence[Sequence[ModelDescription]], default: str
) -> list[ModelDescription]:
    """One entry per model name: its most resident state on any server; the fleet's
    default marked."""
    merged: dict[str, ModelDescription] = {}
    for models in per_server:
        for m in models:
            have = merged.get(m.name)
            if have is None or _residency(m) < _residency(have):
                merged[m.name] = m
    return [
        dataclasses.replace(m, is_default=m.name == default)
        for m in sorted(merged.values(), key=lambda m: m.name)
    ]


def _residency(model: ModelDescription) -> int:
    return _RESIDENCY.get(model.state, len(_RESIDENCY))


async def _next_chunk(call: Stream) -> pb.AudioChunk | None:
    """The stream's next chunk; None at its end."""
    message: object = await call.read()
    return message if isinstance(message, pb.AudioChunk) else None
