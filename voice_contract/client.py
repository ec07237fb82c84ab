"""A small asyncio client for the model server (`voice-engine say`, the worker's
catalogue sync, tests).

async with SpeechClient("127.0.0.1:50051") as client:
    reply = await client.synthesize("Hello there.", AudioFormat.MP3)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import grpc

from shared.audio.formats import AudioFormat
from voice_contract.channels import ChannelSecurity, open_channel
from voice_contract.errors import ErrorDetails, error_details
from voice_contract.requests import SynthesisSettings, text_piece
from voice_contract.v1 import tts_pb2 as pb
from voice_contract.v1 import tts_pb2_grpc
from voice_contract.wire import channel_options


class SpeechClientError(RuntimeError):
    """A failed call: its status code, message and rich details."""

    def __init__(self, code: grpc.StatusCode, message: str, details: ErrorDetails) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
        self.details = details

    @classmethod
    def of(cls, exc: grpc.aio.AioRpcError) -> SpeechClientError:
        return cls(exc.code(), exc.details() or "", error_details(exc.trailing_metadata()))


@dataclass(frozen=True)
class SpeechResult:
    audio: bytes
    format: AudioFormat
    sample_rate: int
    duration: float
    model: str
    voice: str


class SpeechClient:
    def __init__(
        self,
        target: str,
        timeout: float | None = 120.0,
        max_retries: int = 0,
        security: ChannelSecurity | None = None,
    ) -> None:
        self.channel = open_channel(target, channel_options(max_retries), security)
        self.stub = tts_pb2_grpc.TextToSpeechStub(self.channel)
        self.timeout = timeout

    async def __aenter__(self) -> SpeechClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.channel.close(grace=None)

    @staticmethod
    def request(
        text: str, fmt: AudioFormat = AudioFormat.WAV, **options: Any
    ) -> pb.SynthesizeRequest:
        """Synthesize's and SynthesizeStream's request; `options` are SynthesisSettings'
        keywords (voice, model, speed, sample_rate, language, instructions)."""
        return SynthesisSettings(format=fmt, **options).request(text)

    async def synthesize(
        self, text: str, fmt: AudioFormat = AudioFormat.WAV, **options: Any
    ) -> SpeechResult:
        """The whole utterance; `options` are `request`'s keywords (voice, model, ...)."""
        try:
            reply = await self.stub.Synthesize(
                self.request(text, fmt, **options), timeout=self.timeout
            )
        except grpc.aio.AioRpcError as exc:
            raise SpeechClientError.of(exc) from None
        return SpeechResult(
            reply.audio, fmt, reply.sample_rate, reply.duration_seconds, reply.model, reply.voice
        )

    async def stream(
        self, text: str, fmt: AudioFormat = AudioFormat.WAV, **options: Any
    ) -> AsyncIterator[pb.AudioChunk]:
        """Chunks as each sentence is synthesized; concatenated, one valid file."""
        call = self.stub.SynthesizeStream(self.request(text, fmt, **options), timeout=self.timeout)
        try:
            async for chunk in call:
                yield chunk
        except grpc.aio.AioRpcError as exc:
            raise SpeechClientError.of(exc) from None
        finally:
            call.cancel()

    async def stream_text(
        self, texts: AsyncIterator[str], fmt: AudioFormat = AudioFormat.WAV, **options: Any
    ) -> AsyncIterator[pb.AudioChunk]:
        """SynthesizeTextStream: `texts` as they come (a chat model's deltas, lines
        typed), the audio of each sentence as soon as it is spoken; `options` as for
        `request`, and `first_clause`. The text is sent once the server has accepted the
        settings (its empty first chunk)."""
        opening = SynthesisSettings(format=fmt, **options).text_stream_opening()
        accepted = asyncio.Event()

        async def requests() -> AsyncIterator[pb.TextStreamRequest]:
            yield opening
            await accepted.wait()
            async for text in texts:
                yield text_piece(text)

        call = self.stub.SynthesizeTextStream(requests(), timeout=self.timeout)
        try:
            async for chunk in call:
                accepted.set()
                yield chunk
        except grpc.aio.AioRpcError as exc:
            raise SpeechClientError.of(exc) from None
        finally:
            call.cancel()

    async def list_models(self) -> list[pb.ModelInfo]:
        try:
            reply = await self.stub.ListModels(pb.ListModelsRequest(), timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            raise SpeechClientError.of(exc) from None
        return list(reply.models)


async def fetch_speech(
    target: str,
    text: str,
    fmt: AudioFormat = AudioFormat.WAV,
    stream: bool = False,
    security: ChannelSecurity | None = None,
    **options: Any,
) -> SpeechResult:
    """Synthesize `text` on the server at `target`; with `stream`, the reply is the
    concatenation of the streamed chunks (one valid file)."""
    async with SpeechClient(target, security=security) as client:
        if not stream:
            return await client.synthesize(text, fmt, **options)
        chunks = [chunk async for chunk in client.stream(text, fmt, **options)]
    last = chunks[-1]
    audio = b"".join(c.audio for c in chunks)
    return SpeechResult(audio, fmt, last.sample_rate, last.duration_seconds, last.model, last.voice)
