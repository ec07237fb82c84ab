"""The speech-to-text and text-to-speech a turn uses: the worker's own flows behind
the provider Protocols, so a spoken turn gets the upload checks of
`/v1/audio/transcriptions` and a reply is spoken through the audio cache."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from shared.audio.decoding import AudioDecodeError, probe
from shared.audio.formats import AudioFormat
from voice_worker.speech.cached_speech import CachedSpeech
from voice_worker.stt.base import Transcript, TranscriptionOptions
from voice_worker.transcription.transcriber import Transcriber, Upload
from voice_worker.tts.base import Speech, SpeechOptions

log = logging.getLogger(__name__)


class CheckedSTT:
    """The worker's STT behind its upload checks (size, not audio, too long: 4xx)."""

    def __init__(self, transcriber: Transcriber) -> None:
        self.transcriber = transcriber
        self.name = transcriber.provider.name

    async def transcribe(self, audio: bytes, options: TranscriptionOptions) -> Transcript:
        return await self.transcriber.transcribe(Upload(audio, param="audio"), options)


class CachedTTS:
    """The worker's TTS behind its audio cache: a reply spoken before (same text, voice,
    format, speed) costs a cache read, not a synthesis."""

    native_formats = frozenset(AudioFormat)  # CachedSpeech encodes what the provider lacks

    def __init__(self, speech: CachedSpeech) -> None:
        self.speech = speech
        self.name = speech.provider.name

    async def synthesize(self, text: str, options: SpeechOptions) -> Speech:
        o = options
        job = self.speech.prepare(
            text, o.format, o.voice, o.model, o.speed, o.sample_rate, o.instructions, o.language
        )
        audio = (await self.speech.speak(job, stream=False)).body or b""
        rate, duration = job.options.sample_rate, 0.0
        if o.format is AudioFormat.PCM:
            duration = len(audio) / 2 / (rate or 1)
        else:
            try:
                info = await asyncio.to_thread(probe, audio)  # FFmpeg: off the event loop
                rate, duration = info.sample_rate, info.duration or 0.0
            except AudioDecodeError:
                log.warning("reply audio unreadable", extra={"bytes": len(audio)})
        return Speech(audio, o.format, rate, duration, o.model, o.voice)

    def stream(self, text: str, options: SpeechOptions) -> AsyncIterator[bytes]:
        return self.speech.provider.stream(text, options)
