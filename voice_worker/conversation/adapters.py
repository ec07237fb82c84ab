"""The speech-to-text and text-to-speech a turn uses: the worker's own flows, so a
spoken turn gets the upload checks of `/v1/audio/transcriptions`, and a reply is spoken
as it is written and kept in the audio cache."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator

from shared.audio.decoding import AudioDecodeError, probe
from shared.audio.formats import AudioFormat
from voice_worker.errors import VoiceError
from voice_worker.speech.cached_speech import CachedSpeech, SpeechJob
from voice_worker.stt.base import Transcript, TranscriptionOptions
from voice_worker.transcription.transcriber import Transcriber, Upload
from voice_worker.tts.base import SpeechOptions, SpeechPiece
from voice_worker.tts.transcode import PCM_RATE

log = logging.getLogger(__name__)


class CheckedSTT:
    """The worker's STT behind its upload checks (size, not audio, too long: 4xx)."""

    def __init__(self, transcriber: Transcriber) -> None:
        self.transcriber = transcriber
        self.name = transcriber.provider.name

    async def transcribe(self, audio: bytes, options: TranscriptionOptions) -> Transcript:
        return await self.transcriber.transcribe(Upload(audio, param="audio"), options)


class TurnSpeech:
    """How a turn speaks: a reply being written is spoken as it comes
    (`CachedSpeech.stream_text`: the model server's text stream, or sentence by
    sentence), and the whole reply is then kept in the audio cache under its text; a
    reply known in advance (from the response cache) is spoken through the audio
    cache, so a repeated question costs neither chat nor synthesis."""

    def __init__(self, speech: CachedSpeech) -> None:
        self.speech = speech
        self.name = speech.provider.name

    async def stream_text(
        self, texts: AsyncIterator[str], options: SpeechOptions
    ) -> AsyncGenerator[SpeechPiece, None]:
        said: list[str] = []
        audio = bytearray()

        async def noted() -> AsyncIterator[str]:
            async for text in texts:
                said.append(text)
                yield text

        async with contextlib.aclosing(self.speech.stream_text(noted(), options)) as pieces:
            async for piece in pieces:
                audio += piece.audio
                yield piece
        await self._remember("".join(said).strip(), options, bytes(audio))

    async def speak_known(
        self, text: str, options: SpeechOptions
    ) -> AsyncGenerator[SpeechPiece, None]:
        output = await self.speech.speak(self._job(text, options), stream=True)
        if output.body is not None:
            yield SpeechPiece(output.body, text)
            return
        assert output.chunks is not None
        mark = text
        async for chunk in output.chunks:
            yield SpeechPiece(chunk, mark)
            mark = ""

    async def _remember(self, text: str, options: SpeechOptions, audio: bytes) -> None:
        if not audio:
            return
        try:
            job = self._job(text, options)
        except VoiceError:  # a reply longer than a speech request may be: not cached
            return
        await self.speech.remember(job, audio)

    def _job(self, text: str, options: SpeechOptions) -> SpeechJob:
        o = options
        return self.speech.prepare(
            text, o.format, o.voice, o.model, o.speed, o.sample_rate, o.instructions, o.language
        )


async def audio_info(audio: bytes, options: SpeechOptions) -> tuple[int, float]:
    """(sample rate, seconds) of a reply's audio; FFmpeg's probe, off the event loop."""
    if options.format is AudioFormat.PCM:
        rate = options.sample_rate or PCM_RATE
        return rate, len(audio) / 2 / rate
    try:
        info = await asyncio.to_thread(probe, audio)
    except AudioDecodeError:
        log.warning("reply audio unreadable", extra={"bytes": len(audio)})
        return options.sample_rate, 0.0
    return info.sample_rate, info.duration or 0.0
