"""A small asyncio client for the model server (used by `voice-engine say`).

async with SpeechClient("127.0.0.1:50051") as client:
    reply = await client.synthesize("Hello there.", fmt=AudioFormat.MP3)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import TracebackType

import grpc

from shared.audio.formats import AudioFormat
from voice_engine.v1 import tts_pb2 as pb
from voice_engine.v1 import tts_pb2_grpc

MAX_MESSAGE_BYTES = 64 * 2**20
PB_FORMATS = {
    AudioFormat.WAV: pb.AUDIO_FORMAT_WAV,
    AudioFormat.PCM: pb.AUDIO_FORMAT_PCM,
    AudioFormat.MP3: pb.AUDIO_FORMAT_MP3,
    AudioFormat.OPUS: pb.AUDIO_FORMAT_OPUS,
    AudioFormat.FLAC: pb.AUDIO_FORMAT_FLAC,
}


class SpeechClientError(RuntimeError):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details


@dataclass(frozen=True)
class SpeechResult:
    audio: bytes
    format: AudioFormat
    sample_rate: int
    duration: float
    model: str
    voice: str


def channel_options() -> list[tuple[str, int]]:
    return [
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ]


class SpeechClient:
    def __init__(self, target: str, timeout: float | None = 120.0) -> None:
        self.channel = grpc.aio.insecure_channel(target, options=channel_options())
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
        text: str, fmt: AudioFormat = AudioFormat.WAV, **fields: object
    ) -> pb.SynthesizeRequest:
        return pb.SynthesizeRequest(text=text, format=PB_FORMATS[fmt], **fields)  # type: ignore[arg-type]

    async def synthesize(
        self, text: str, fmt: AudioFormat = AudioFormat.WAV, **fields: object
    ) -> SpeechResult:
        try:
            reply = await self.stub.Synthesize(
                self.request(text, fmt, **fields), timeout=self.timeout
            )
        except grpc.aio.AioRpcError as exc:
            raise SpeechClientError(exc.code(), exc.details() or "") from None
        return SpeechResult(
            reply.audio, fmt, reply.sample_rate, reply.duration_seconds, reply.model, reply.voice
        )

    async def stream(
        self, text: str, fmt: AudioFormat = AudioFormat.WAV, **fields: object
    ) -> AsyncIterator[pb.AudioChunk]:
        call = self.stub.SynthesizeStream(self.request(text, fmt, **fields), timeout=self.timeout)
        try:
            async for chunk in call:
                yield chunk
        except grpc.aio.AioRpcError as exc:
            raise SpeechClientError(exc.code(), exc.details() or "") from None


async def fetch_speech(
    target: str,
    text: str,
    fmt: AudioFormat = AudioFormat.WAV,
    stream: bool = False,
    **fields: object,
) -> SpeechResult:
    """Synthesize `text` on the server at `target`; with `stream`, the reply is the
    concatenation of the streamed chunks (one valid file)."""
    async with SpeechClient(target) as client:
        if not stream:
            return await client.synthesize(text, fmt, **fields)
        chunks = [chunk async for chunk in client.stream(text, fmt, **fields)]
    last = chunks[-1]
    audio = b"".join(c.audio for c in chunks)
    return SpeechResult(audio, fmt, last.sample_rate, last.duration_seconds, last.model, last.voice)
