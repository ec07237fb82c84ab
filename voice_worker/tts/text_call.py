"""One `SynthesizeTextStream` call as the model-server providers make it: opened with
its config; the text written only once the server has accepted the config (its empty
first chunk), so a refusal never meets a write of ours (grpc/grpc#36066 would turn it
into INTERNAL) and a call refused or unavailable at the start can be made again, on
the same server or another, without having consumed any text. Its messages, and the
requests of the providers' other calls, are built by voice_contract.requests from
`synthesis_settings`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator

from voice_contract.requests import SynthesisSettings, text_piece
from voice_contract.v1 import tts_pb2 as pb
from voice_contract.v1 import tts_pb2_grpc
from voice_worker.errors import UpstreamFailed
from voice_worker.tts.base import SpeechOptions, SpeechPiece


def synthesis_settings(options: SpeechOptions) -> SynthesisSettings:
    """The wire contract's settings of a call to the model server (any of the three
    synthesis calls), from the worker's options."""
    return SynthesisSettings(
        format=options.format,
        model=options.model,
        voice=options.voice,
        language=options.language,
        sample_rate=options.sample_rate,
        speed=options.speed,
        instructions=options.instructions,
        first_clause=options.first_clause,
    )


class TextCall:
    def __init__(
        self,
        stub: tts_pb2_grpc.TextToSpeechStub,
        options: SpeechOptions,
        timeout: float,
        metadata: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self._texts: AsyncIterator[str] | None = None
        self._attached = asyncio.Event()
        self.call = stub.SynthesizeTextStream(
            self._messages(synthesis_settings(options).text_stream_opening()),
            timeout=timeout,
            metadata=metadata,
        )

    async def _messages(self, opening: pb.TextStreamRequest) -> AsyncIterator[pb.TextStreamRequest]:
        yield opening
        await self._attached.wait()
        assert self._texts is not None
        async for text in self._texts:
            yield text_piece(text)

    async def accepted(self) -> TextCall:
        """Wait for the server to accept the config; its refusal raises AioRpcError."""
        try:
            first = await self.call.read()
        except BaseException:
            self.call.cancel()
            raise
        if not isinstance(first, pb.AudioChunk):
            self.call.cancel()
            raise UpstreamFailed("model server", "ended the text stream before accepting it")
        return self

    async def pieces(self, texts: AsyncIterator[str]) -> AsyncGenerator[SpeechPiece, None]:
        """Write `texts` as they come; the audio as it is spoken. Closing this generator
        cancels the call (the server stops what is not yet spoken)."""
        self._texts = texts
        self._attached.set()
        try:
            while isinstance(chunk := await self.call.read(), pb.AudioChunk):
                if chunk.audio or chunk.text or chunk.sentence_end:
                    yield SpeechPiece(
                        chunk.audio, chunk.text, chunk.text_start_seconds, chunk.sentence_end
                    )
        finally:
            self.call.cancel()
