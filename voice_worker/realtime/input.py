"""The input audio buffer of one connection and the turn detection on it.

The buffer holds pcm16 24 kHz audio, bounded (VOICE_REALTIME__MAX_BUFFER_SECONDS), what
the client appends in the session's input format converted as it arrives
(realtime/formats.py: G.711 decoded and resampled; a new format applies from the next
append, the buffer keeps what it holds); its
first byte is byte `dropped` of all the audio appended since the connection began (the
input time the protocol's `audio_start_ms` / `audio_end_ms` count, in ms). Every append
also goes, resampled to 16 kHz, through the VAD (realtime/vad.py), in push-to-talk
sessions too: there it only transcribes early.

With server VAD the buffer keeps only the prefix padding until speech starts
(`SpeechBegan`, with the audio_start_ms the protocol reports); when the silence window
runs out, the speech becomes an utterance (`TurnEnded`: its audio, up to the end of
the window). With semantic_vad the end-of-turn model judges the utterance at the
detector's checkpoints (`TurnCheck`: on a thread, the appends after it wait), with the
words of the early transcript (waited for there), and the turn ends where they say so
(realtime/semantic.py), or at the eagerness's longest wait.

When the user falls silent, the speech so far is transcribed at once
(`transcribe_early`, after `early_transcription_ms` of silence), and again once the
silence has lasted `soft_end_ms` (the first may have missed a soft ending: "my fellow
America" for "...Americans"); the newer replaces the older. The transcript is dropped
as soon as the user speaks again or the buffer changes; the commit uses it when it
covers the utterance up to its end or to `soft_end_ms` after the silence began, else
the utterance is transcribed whole."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from shared.logs import Stopwatch
from voice_worker.conversation.turn import Heard
from voice_worker.errors import InvalidRequest, PayloadTooLarge
from voice_worker.realtime.audio import BYTES_PER_MS, Downsampler, milliseconds, wav
from voice_worker.realtime.formats import Format, InputDecoder
from voice_worker.realtime.ids import new_id
from voice_worker.realtime.semantic import words_end
from voice_worker.realtime.settings import RealtimeSettings
from voice_worker.realtime.smart_turn import EndOfTurnModel
from voice_worker.realtime.vad import (
    FRAME_MS,
    SilenceBegan,
    SileroModel,
    SpeechResumed,
    SpeechStarted,
    SpeechStopped,
    TurnCheck,
    TurnDetector,
    VadConfig,
    VadEvent,
)

log = logging.getLogger(__name__)
Transcribe = Callable[[bytes], "asyncio.Task[Heard]"]


@dataclass(frozen=True)
class SpeechBegan:
    item_id: str
    audio_start_ms: int  # with the prefix padding


@dataclass(frozen=True)
class Utterance:
    """Audio committed as a user item, and its early transcript when it covers it."""

    item_id: str
    audio: bytes
    early: asyncio.Task[Heard] | None


@dataclass(frozen=True)
class TurnEnded:
    utterance: Utterance
    audio_end_ms: int  # with the silence window


InputEvent = SpeechBegan | TurnEnded


@dataclass
class Early:
    end: int  # bytes of the buffer it covers
    silence: int  # where the silence began in the buffer
    task: asyncio.Task[Heard]


class InputAudio:
    def __init__(
        self,
        settings: RealtimeSettings,
        model: SileroModel,
        vad: VadConfig | None,
        transcribe_early: Transcribe,
        input_format: Format = "audio/pcm",
        end_model: EndOfTurnModel | None = None,
    ) -> None:
        self.settings = settings
        self.vad = vad
        self.transcribe_early = transcribe_early
        self.buffer = bytearray()
        self.dropped = 0  # bytes appended before buffer[0]
        self.speech_item: str | None = None  # the speech in progress (server VAD)
        self.early: Early | None = None
        self.on_early_discarded: Callable[[asyncio.Task[Heard]], None] = _ignored
        self.detector = TurnDetector(
            model,
            vad or VadConfig(),
            settings.early_transcription_ms,
            settings.soft_end_ms,
            end_model,
        )
        self.downsampler = Downsampler()
        self.decoder = InputDecoder(input_format)

    def configure(self, vad: VadConfig | None) -> None:
        self.vad = vad
        self.speech_item = None
        self.detector.reset(vad or VadConfig())

    def set_format(self, input_format: Format) -> None:
        if input_format != self.decoder.format:
            self.decoder = InputDecoder(input_format)

    async def append(self, audio: str | bytes) -> list[InputEvent]:
        """An `input_audio_buffer.append`'s `audio` (base64, in the input format), or
        pcm16 at 24 kHz as it is (bytes: a WebRTC track's, whatever the format)."""
        s = self.settings
        data = self.decoder.payload(audio) if isinstance(audio, str) else audio
        if len(data) > s.max_append_bytes:
            raise PayloadTooLarge(
                f"audio holds {len(data)} bytes; at most {s.max_append_bytes} per append",
                param="audio",
                code="audio_too_large",
            )
        pcm = self.decoder.pcm(data) if isinstance(audio, str) else data
        if len(self.buffer) + len(pcm) > int(s.max_buffer_seconds * 1000) * BYTES_PER_MS:
            raise InvalidRequest(
                f"the input audio buffer holds {s.max_buffer_seconds:g} s at most; commit or "
                "clear it (this audio was dropped)",
                param="audio",
                code="input_audio_buffer_full",
            )
        self.buffer += pcm
        samples = self.downsampler.feed(pcm)
        if self.detector.costly(len(samples)):
            found = await asyncio.to_thread(self.detector.feed, samples)
        else:
            found = self.detector.feed(samples)
        events = [e for vad_event in found if (e := self._input_event(vad_event)) is not None]
        while found and isinstance(found[-1], TurnCheck):  # semantic_vad: judged here
            check, watch = found[-1], Stopwatch()
            judged = asyncio.to_thread(self.detector.judge)
            probability, words = await asyncio.gather(judged, self._early_words())
            found = self.detector.verdict(probability, words)
            log.debug(
                "end of turn judged",
                extra={
                    "silent_ms": check.silent_ms,
                    "probability": round(probability, 3),
                    "words_end": words_end(words),
                    "ended": any(isinstance(e, SpeechStopped) for e in found),
                    "ms": round(watch.seconds * 1000, 1),
                },
            )
            events += [e for vad_event in found if (e := self._input_event(vad_event)) is not None]
        if self.vad is not None and self.speech_item is None:
            # while nobody speaks, keep only what the prefix padding may need
            extra = len(self.buffer) - (self.vad.prefix_padding_ms + FRAME_MS) * BYTES_PER_MS
            if extra > 0:
                self._drop(extra)
        return events

    async def _early_words(self) -> str | None:
        """The words of the early transcript (semantic_vad reads them at a judgement:
        realtime/semantic.py), once it is done; None without one, or if it failed."""
        early = self.early
        if early is None:
            return None
        try:
            heard = await asyncio.shield(early.task)
        except asyncio.CancelledError:
            if early.task.cancelled():
                return None
            raise
        except Exception:  # a failed early transcript: the model alone decides
            return None
        return heard.transcript.text

    def _input_event(self, found: VadEvent) -> InputEvent | None:
        vad = self.vad
        if isinstance(found, SpeechStarted):
            self._discard_early()
            if vad is None:
                return None
            self._drop(self._offset(found.at_ms - vad.prefix_padding_ms))
            start = milliseconds(self.dropped)
            self.speech_item = new_id("item")
            return SpeechBegan(self.speech_item, start)
        if isinstance(found, SilenceBegan):
            self._start_early(self._offset(found.until_ms), self._offset(found.at_ms))
        elif isinstance(found, SpeechResumed):
            self._discard_early()
        elif isinstance(found, SpeechStopped) and vad is not None and self.speech_item:
            item_id, self.speech_item = self.speech_item, None
            return TurnEnded(self._take(item_id, self._offset(found.at_ms)), found.at_ms)
        return None

    def commit(self) -> Utterance:
        """The whole buffer as an utterance (`input_audio_buffer.commit`)."""
        if len(self.buffer) < max(self.settings.min_commit_ms * BYTES_PER_MS, 2):
            raise InvalidRequest(
                f"buffer too small: a commit needs at least {self.settings.min_commit_ms} ms "
                f"of audio, the buffer holds {milliseconds(len(self.buffer))} ms",
                param="audio",
                code="input_audio_buffer_commit_empty",
            )
        item_id, self.speech_item = self.speech_item or new_id("item"), None
        self.detector.reset()
        return self._take(item_id, len(self.buffer))

    def clear(self) -> None:
        self._drop(len(self.buffer))
        self.speech_item = None
        self.detector.reset()

    def _take(self, item_id: str, end: int) -> Utterance:
        """The buffer up to `end`, with the early transcript if it covers it."""
        audio = bytes(self.buffer[:end])
        early, self.early = self.early, None
        soft = self.settings.soft_end_ms * BYTES_PER_MS
        reuse = early is not None and min(end, early.silence + soft) <= early.end <= end
        if early is not None and not reuse:
            early.task.cancel()
            self.on_early_discarded(early.task)
        self._drop(end)
        return Utterance(item_id, audio, early.task if early is not None and reuse else None)

    def _start_early(self, end: int, silence: int) -> None:
        if self.settings.early_transcription_ms < 0:
            return
        if end < self.settings.min_commit_ms * BYTES_PER_MS:
            return
        self._discard_early()
        task = self.transcribe_early(wav(bytes(self.buffer[:end])))
        task.add_done_callback(_quiet)
        self.early = Early(end, silence, task)

    def _discard_early(self) -> None:
        if self.early is not None:
            self.early.task.cancel()
            self.on_early_discarded(self.early.task)
            self.early = None

    def _drop(self, size: int) -> None:
        size -= size % 2
        del self.buffer[:size]
        self.dropped += size
        self._discard_early()

    def _offset(self, ms: int) -> int:
        """The buffer position of input time `ms`."""
        return min(max(0, ms * BYTES_PER_MS - self.dropped), len(self.buffer))

    def close(self) -> None:
        self._discard_early()


def _quiet(task: asyncio.Task[Heard]) -> None:
    """An early transcription nobody waits for: its failure is not worth a warning."""
    if not task.cancelled():
        task.exception()


def _ignored(task: asyncio.Task[Heard]) -> None:
    """What a discarded early transcript does to no one."""
