"""Text-to-speech over Wyoming.

- `synthesize` (text, voice {name, language, speaker}) -> `audio-start`, `audio-chunk`*,
  `audio-stop`.
- Streaming: `synthesize-start` (voice), `synthesize-chunk`* (text as it is written),
  `synthesize` (the whole text again, for servers that do not stream: not spoken twice),
  `synthesize-stop` -> `audio-start`, `audio-chunk`*, `audio-stop` per sentence, each
  sentence spoken as soon as its end is certain, then `synthesize-stopped`.

Audio is s16le mono at VOICE_WYOMING__SAMPLE_RATE (22050 Hz by default, the Piper
voice's own; the model server resamples other voices), `samples_per_chunk` samples per
`audio-chunk`. A `synthesize` is spoken through the worker's `CachedSpeech` (the text
rule, the audio cache, single flight); a stream through its `stream_text` (the same
checks; the model server's text stream: each sentence synthesized as soon as its end
is certain, the next one while this one plays). The voice comes from
`VoiceDirectory.choose` (an unknown name falls back to the default voice, with one log
line)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event
from wyoming.tts import SynthesizeStopped

from shared.audio.formats import AudioFormat
from shared.speakable import TextIssue, strip_controls
from voice_worker.errors import InvalidRequest
from voice_worker.speech.cached_speech import TEXT_CODES, CachedSpeech
from voice_worker.tts.base import SpeechOptions, SpeechPiece
from voice_worker.wyoming.voices import VoiceChoice, VoiceDirectory

log = logging.getLogger(__name__)

Send = Callable[[Event], Awaitable[None]]
Report = Callable[[Exception], Awaitable[None]]
#: a stream with nothing to say ("...", an emoji) says nothing; no error (the model
#: server's reasons, as the worker's codes, and CachedSpeech's own)
_SILENT = frozenset(
    {
        "text_empty",
        "text_not_speakable",
        *(TEXT_CODES[i] for i in (TextIssue.EMPTY, TextIssue.NOT_SPEAKABLE)),
    }
)


class PcmSpeech:
    """One text as PCM, through CachedSpeech."""

    def __init__(self, speech: CachedSpeech, sample_rate: int) -> None:
        self.speech = speech
        self.sample_rate = sample_rate

    @property
    def max_chars(self) -> int:
        return self.speech.max_input_chars

    async def pcm(self, text: str, voice: VoiceChoice) -> AsyncIterator[bytes]:
        """Errors before the first audio byte are raised here, not while iterating."""
        job = self.speech.prepare(
            text,
            AudioFormat.PCM,
            voice=voice.name,
            model=voice.model,
            sample_rate=self.sample_rate,
            language=voice.language,
            text_param="text",
        )
        output = await self.speech.speak(job, stream=True)
        if output.chunks is not None:
            return output.chunks
        return _one(output.body or b"")


async def _one(body: bytes) -> AsyncIterator[bytes]:
    yield body


async def send_audio(
    send: Send, pcm: AsyncIterator[bytes], rate: int, samples_per_chunk: int
) -> None:
    """`audio-start`, the PCM in `audio-chunk`s of `samples_per_chunk`, `audio-stop`."""
    await send(AudioStart(rate=rate, width=2, channels=1).event())
    size = samples_per_chunk * 2
    pending = bytearray()
    async for piece in pcm:
        pending += piece
        while len(pending) >= size:
            await send(
                AudioChunk(rate=rate, width=2, channels=1, audio=bytes(pending[:size])).event()
            )
            del pending[:size]
    tail = bytes(pending[: len(pending) - len(pending) % 2])
    if tail:
        await send(AudioChunk(rate=rate, width=2, channels=1, audio=tail).event())
    await send(AudioStop().event())


class SentenceStream:
    """Text in pieces in (`write`, then `close`), speech out as it is written
    (`CachedSpeech.stream_text`: the model server's text stream, each sentence
    synthesized as soon as its end is certain, the next while this one plays, the
    first one urgent), as PCM pieces marked where each sentence begins. `abort` speaks
    nothing more."""

    def __init__(self, speech: PcmSpeech, voice: VoiceChoice) -> None:
        self.speech = speech
        self.voice = voice
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.chars = 0
        self.closed = False

    def write(self, text: str) -> None:
        if self.closed:
            return
        self.chars += len(text)
        if self.chars > self.speech.max_chars:
            self.abort()
            raise InvalidRequest(
                f"the streamed text is longer than {self.speech.max_chars} characters, the "
                "most accepted",
                param="text",
                code=TEXT_CODES[TextIssue.TOO_LONG],
            )
        if text:
            self.queue.put_nowait(strip_controls(text))

    def close(self) -> None:
        self._end()

    def abort(self) -> None:
        while not self.queue.empty():
            self.queue.get_nowait()
        self._end()

    def _end(self) -> None:
        if not self.closed:
            self.closed = True
            self.queue.put_nowait(None)

    async def _texts(self) -> AsyncIterator[str]:
        while (text := await self.queue.get()) is not None:
            yield text

    async def pieces(self) -> AsyncIterator[SpeechPiece]:
        """The PCM as it is spoken; a piece with `text` begins a sentence. A stream
        with nothing to say says nothing (no error)."""
        options = SpeechOptions(
            voice=self.voice.name,
            model=self.voice.model,
            format=AudioFormat.PCM,
            sample_rate=self.speech.sample_rate,
            language=self.voice.language,
        )
        try:
            async with contextlib.aclosing(
                self.speech.speech.stream_text(self._texts(), options)
            ) as pieces:
                async for piece in pieces:
                    yield piece
        except InvalidRequest as exc:
            if exc.code not in _SILENT:
                raise
            log.debug("nothing to say in a streamed text")


def _string(data: Mapping[str, Any], name: str) -> str:
    """A text field; absent, null or not text reads as "" (Home Assistant sends all three)."""
    value = data.get(name)
    return value if isinstance(value, str) else ""


def _text(data: Mapping[str, Any]) -> str:
    return _string(data, "text")


def _voice_fields(data: Mapping[str, Any]) -> tuple[str, str, str]:
    voice = data.get("voice")
    voice = voice if isinstance(voice, dict) else {}
    return _string(voice, "name"), _string(voice, "language"), _string(voice, "speaker")


class Synthesis:
    """One connection's text-to-speech: single requests, and at most one open stream,
    whose sentences a task speaks while the connection reads more text."""

    def __init__(
        self,
        speech: PcmSpeech,
        voices: VoiceDirectory,
        send: Send,
        report: Report,
        samples_per_chunk: int,
    ) -> None:
        self.speech = speech
        self.voices = voices
        self.send = send
        self.report = report
        self.samples_per_chunk = samples_per_chunk
        self.stream: SentenceStream | None = None
        self.speaker: asyncio.Task[None] | None = None

    @property
    def idle(self) -> bool:
        return self.stream is None

    async def _voice(self, data: Mapping[str, Any]) -> VoiceChoice:
        return await self.voices.choose(*_voice_fields(data))

    async def _play(self, pcm: AsyncIterator[bytes]) -> None:
        await send_audio(self.send, pcm, self.speech.sample_rate, self.samples_per_chunk)

    async def synthesize(self, data: Mapping[str, Any]) -> bool:
        """Speak the text, unless it repeats an open stream's (then False)."""
        if self.stream is not None:
            log.debug("synthesize inside a stream repeats the streamed text: not spoken again")
            return False
        voice = await self._voice(data)
        await self._play(await self.speech.pcm(_text(data), voice))
        return True

    async def start(self, data: Mapping[str, Any]) -> None:
        if self.stream is not None:
            raise InvalidRequest(
                "synthesize-start while a stream is open; end it with synthesize-stop",
                code="stream_already_started",
            )
        self.stream = SentenceStream(self.speech, await self._voice(data))
        self.speaker = asyncio.create_task(self._speak(self.stream), name="wyoming speaker")

    def chunk(self, data: Mapping[str, Any]) -> None:
        if self.stream is None:
            raise InvalidRequest(
                "synthesize-chunk without synthesize-start", code="stream_not_started"
            )
        self.stream.write(_text(data))

    async def stop(self) -> None:
        if self.stream is None or self.speaker is None:
            raise InvalidRequest(
                "synthesize-stop without synthesize-start", code="stream_not_started"
            )
        self.stream.close()
        try:
            await self.speaker
        finally:
            self.stream = self.speaker = None
        await self.send(SynthesizeStopped().event())

    async def _speak(self, stream: SentenceStream) -> None:
        """One `audio-start` ... `audio-stop` per sentence, as Wyoming streams speak."""
        rate, size = self.speech.sample_rate, self.samples_per_chunk * 2
        pending, started = bytearray(), False

        async def flush(everything: bool) -> None:
            end = len(pending) - len(pending) % 2 if everything else len(pending) // size * size
            for at in range(0, end, size):
                chunk = bytes(pending[at : min(at + size, end)])
                await self.send(AudioChunk(rate=rate, width=2, channels=1, audio=chunk).event())
            del pending[:end]

        try:
            async for piece in stream.pieces():
                if piece.text:
                    if started:
                        await flush(everything=True)
                        await self.send(AudioStop().event())
                    await self.send(AudioStart(rate=rate, width=2, channels=1).event())
                    pending.clear()
                    started = True
                pending.extend(piece.audio)
                await flush(everything=piece.sentence_end)
                if piece.sentence_end and started:
                    await self.send(AudioStop().event())
                    started = False
            if started:
                await flush(everything=True)
                await self.send(AudioStop().event())
        except (ConnectionError, asyncio.CancelledError):
            raise
        except Exception as exc:  # reported on the connection; the stream speaks no more
            stream.abort()
            await self.report(exc)

    async def close(self) -> None:
        if self.speaker is not None:
            self.speaker.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.speaker
