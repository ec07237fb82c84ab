"""Speech-to-text over Wyoming: `transcribe` (model name, language), then `audio-start`,
`audio-chunk`*, `audio-stop` in whatever PCM the client declares (Home Assistant: 16
kHz, 16-bit, mono). The audio is kept, bounded by the worker's own limits
(VOICE_STT__MAX_SECONDS, VOICE_STT__MAX_BYTES: past either, an error event at once and
the rest of the stream dropped), then wrapped as a WAV file of the declared format and
handed to the worker's `Transcriber` like any upload: it checks it, decodes and
resamples it with PyAV to what the model takes, and transcribes.

The answer is `transcript-start`, one `transcript-chunk` per segment (they join into
the text), `transcript`, `transcript-stop`; clients that know only `transcript` skip
the rest. The segments come once the utterance is decoded: Whisper decodes a whole
window at once, so a short command gains nothing from earlier pieces."""

from __future__ import annotations

import io
import logging
import wave
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from wyoming.asr import Transcript, TranscriptChunk, TranscriptStart, TranscriptStop
from wyoming.event import Event

from shared.limits import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE
from voice_worker.errors import InvalidRequest, VoiceError
from voice_worker.stt.base import Transcript as DomainTranscript
from voice_worker.stt.base import TranscriptionOptions
from voice_worker.transcription.transcriber import Transcriber, Upload

log = logging.getLogger(__name__)

Send = Callable[[Event], Awaitable[None]]
#: sample widths (bytes) and channel counts a WAV file carries
WIDTHS = (1, 2, 3, 4)
MAX_CHANNELS = 8


@dataclass(frozen=True)
class PcmFormat:
    rate: int
    width: int
    channels: int

    @property
    def frame_bytes(self) -> int:
        return self.width * self.channels

    def seconds(self, size: int) -> float:
        return size / (self.frame_bytes * self.rate)


def _integer(data: Mapping[str, Any], name: str, event: str) -> int:
    value = data.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidRequest(
            f"{event} needs an integer {name!r} (got {value!r})",
            param=name,
            code="invalid_audio_format",
        )
    return value


def parse_format(data: Mapping[str, Any], event: str = "audio-start") -> PcmFormat:
    fmt = PcmFormat(
        _integer(data, "rate", event),
        _integer(data, "width", event),
        _integer(data, "channels", event),
    )
    if not MIN_SAMPLE_RATE <= fmt.rate <= MAX_SAMPLE_RATE:
        raise InvalidRequest(
            f"rate {fmt.rate} is out of range; use {MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE} Hz",
            param="rate",
            code="invalid_audio_format",
        )
    if fmt.width not in WIDTHS:
        raise InvalidRequest(
            f"width {fmt.width} is not a sample width; use 1, 2, 3 or 4 bytes",
            param="width",
            code="invalid_audio_format",
        )
    if not 1 <= fmt.channels <= MAX_CHANNELS:
        raise InvalidRequest(
            f"channels {fmt.channels} is out of range; use 1 to {MAX_CHANNELS}",
            param="channels",
            code="invalid_audio_format",
        )
    return fmt


def wav_file(pcm: bytes, fmt: PcmFormat) -> bytes:
    """Whole frames of `pcm` as a WAV file (8-bit WAV is unsigned, as in Wyoming)."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(fmt.channels)
        wav.setsampwidth(fmt.width)
        wav.setframerate(fmt.rate)
        wav.writeframes(pcm[: len(pcm) - len(pcm) % fmt.frame_bytes])
    return out.getvalue()


def language_code(language: object) -> str | None:
    """Whisper's code of a tag: "en-US" -> "en"; nothing usable -> None (detect)."""
    if not isinstance(language, str) or not language.strip():
        return None
    return language.strip().replace("_", "-").split("-")[0].lower()


def transcript_events(transcript: DomainTranscript) -> list[Event]:
    text = transcript.text
    pieces = [s.text for s in transcript.segments]
    if "".join(pieces).strip() != text:
        pieces = [text]
    elif pieces:  # the same strip as the text's, so the chunks join into it exactly
        pieces[0] = pieces[0].lstrip()
        pieces[-1] = pieces[-1].rstrip()
    language = transcript.language or None
    return [
        TranscriptStart(language=language).event(),
        *(TranscriptChunk(text=piece).event() for piece in pieces if piece),
        Transcript(text=text, language=language).event(),
        TranscriptStop().event(),
    ]


class Transcription:
    """One connection's speech-to-text state: the request's options, the audio so far."""

    def __init__(self, transcriber: Transcriber, send: Send) -> None:
        self.transcriber = transcriber
        self.send = send
        self.language: str | None = None
        self.format: PcmFormat | None = None
        self.audio = bytearray()
        self.dropping = False  # the stream was refused: drop it until audio-stop

    @property
    def idle(self) -> bool:
        return self.format is None and not self.dropping

    def transcribe(self, data: Mapping[str, Any]) -> None:
        self.language = language_code(data.get("language"))

    def start(self, data: Mapping[str, Any]) -> None:
        if self.format is not None:
            log.info("audio-start again before audio-stop: the earlier audio is dropped")
        self._reset_audio()
        try:
            self.format = parse_format(data)
        except VoiceError:
            self.dropping = True  # its chunks and audio-stop: dropped quietly
            raise

    def chunk(self, data: Mapping[str, Any], payload: bytes | None) -> None:
        if self.dropping:
            return
        if self.format is None:
            self.dropping = True
            raise InvalidRequest(
                "audio-chunk before audio-start: send audio-start with rate, width and "
                "channels first",
                code="audio_not_started",
            )
        try:
            self._check_chunk(data)
            self._add(payload or b"")
        except VoiceError:
            self._reset_audio()
            self.dropping = True
            raise

    def _check_chunk(self, data: Mapping[str, Any]) -> None:
        assert self.format is not None
        declared = {name: data.get(name) for name in ("rate", "width", "channels")}
        if all(value is None for value in declared.values()):
            return  # the stream's format
        if parse_format(data, "audio-chunk") != self.format:
            raise InvalidRequest(
                f"audio-chunk format {declared} differs from audio-start's {vars(self.format)}",
                code="audio_format_changed",
            )

    def _add(self, payload: bytes) -> None:
        assert self.format is not None
        size = len(self.audio) + len(payload)
        self.transcriber.check_size(size, "audio")
        seconds = self.format.seconds(size)
        if seconds > self.transcriber.max_seconds:
            raise InvalidRequest(
                f"the audio is longer than {self.transcriber.max_seconds:g} s, the most accepted",
                param="audio",
                code="audio_too_long",
            )
        self.audio += payload

    async def stop(self) -> None:
        if self.dropping:  # refused already (its error event is sent)
            self._reset_audio()
            return
        if self.format is None:
            raise InvalidRequest("audio-stop without audio-start", code="audio_not_started")
        wav = wav_file(bytes(self.audio), self.format)
        options = TranscriptionOptions(language=self.language)
        self._reset_audio()
        self.language = None  # the next request names its own
        transcript = await self.transcriber.transcribe(
            Upload(wav, filename="audio.wav", content_type="audio/wav", param="audio"), options
        )
        for event in transcript_events(transcript):
            await self.send(event)

    def _reset_audio(self) -> None:
        self.format = None
        self.audio = bytearray()
        self.dropping = False
