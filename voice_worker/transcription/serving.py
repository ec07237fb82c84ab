"""Transcription, whatever the route: refuse bad uploads cheaply and clearly (size,
extension, not audio, too long, too short: all 4xx) before any model runs, then
hand the audio to the configured provider."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import PurePath

from shared.audio.decoding import AudioDecodeError, AudioTooLongError, decode, probe
from voice_worker.errors import Busy, InvalidRequest, PayloadTooLarge
from voice_worker.stt.base import STTProvider, Transcript, TranscriptionOptions

#: the containers OpenAI accepts, plus the other names browsers and phones use
EXTENSIONS = frozenset(
    [
        "flac",
        "mp3",
        "mp4",
        "mpeg",
        "mpga",
        "m4a",
        "ogg",
        "oga",
        "opus",
        "wav",
        "wave",
        "webm",
        "weba",
        "aac",
        "3gp",
        "caf",
    ]
)
DECODE_RATE = 16_000


@dataclass(frozen=True)
class Upload:
    data: bytes
    filename: str = ""
    content_type: str = ""


@dataclass
class TranscriptionCounters:
    requests: int = 0
    rejected: int = 0
    audio_seconds: float = 0.0


class TranscriptionService:
    def __init__(
        self,
        provider: STTProvider,
        max_bytes: int = 25 * 2**20,
        max_seconds: float = 300.0,
        min_seconds: float = 0.1,
        max_pending: int = 32,
    ) -> None:
        self.provider = provider
        self.max_bytes = max_bytes
        self.max_seconds = max_seconds
        self.min_seconds = min_seconds
        self.max_pending = max_pending
        self.pending = 0
        self.counters = TranscriptionCounters()

    def check_size(self, size: int | None) -> None:
        """Call as soon as the size is known (before reading the file into memory)."""
        if size is not None and size > self.max_bytes:
            self.counters.rejected += 1
            raise PayloadTooLarge(
                f"the file has {size} bytes; at most {self.max_bytes} are accepted",
                param="file",
                code="file_too_large",
            )

    def check_upload(self, upload: Upload) -> None:
        self.check_size(len(upload.data))
        suffix = PurePath(upload.filename).suffix.lower().lstrip(".")
        if suffix and suffix not in EXTENSIONS:
            self.counters.rejected += 1
            raise InvalidRequest(
                f"unsupported file extension '.{suffix}'; "
                f"supported: {', '.join(sorted(EXTENSIONS))}",
                param="file",
                code="invalid_file_format",
            )
        if not upload.data:
            self.counters.rejected += 1
            raise InvalidRequest("the uploaded file is empty", param="file", code="empty_file")

    async def transcribe(self, upload: Upload, options: TranscriptionOptions) -> Transcript:
        self.counters.requests += 1
        self.check_upload(upload)
        if self.pending >= self.max_pending:
            self.counters.rejected += 1
            raise Busy(
                f"{self.pending} transcriptions are already running or queued here; retry",
                code="too_many_pending",
                headers={"Retry-After": "1"},
            )
        self.pending += 1
        try:
            return await self._transcribe(upload, options)
        finally:
            self.pending -= 1

    async def _transcribe(self, upload: Upload, options: TranscriptionOptions) -> Transcript:
        try:
            info = await asyncio.to_thread(probe, upload.data)
            if info.duration is not None and info.duration > self.max_seconds + 0.5:
                raise AudioTooLongError(info.duration, self.max_seconds)
            decoded = await asyncio.to_thread(decode, upload.data, DECODE_RATE, self.max_seconds)
        except AudioTooLongError as exc:
            self.counters.rejected += 1
            raise InvalidRequest(str(exc), param="file", code="audio_too_long") from None
        except AudioDecodeError as exc:
            self.counters.rejected += 1
            raise InvalidRequest(
                f"the file is not audio we can read ({exc})", param="file", code="invalid_audio"
            ) from None
        if decoded.duration < self.min_seconds:
            self.counters.rejected += 1
            raise InvalidRequest(
                f"the file holds {decoded.duration:.2f} s of audio; at least "
                f"{self.min_seconds:g} s needed (is it truncated?)",
                param="file",
                code="audio_too_short",
            )
        self.counters.audio_seconds += decoded.duration
        pcm_path = getattr(self.provider, "transcribe_samples", None)
        if pcm_path is not None and getattr(self.provider, "sample_rate", 0) == DECODE_RATE:
            transcript: Transcript = await pcm_path(decoded.samples, options)
        else:
            transcript = await self.provider.transcribe(upload.data, options)
        if not transcript.duration:
            transcript = _with_duration(transcript, decoded.duration)
        return transcript

    def state(self) -> dict[str, object]:
        c = self.counters
        return {
            "provider": self.provider.name,
            "requests": c.requests,
            "rejected": c.rejected,
            "pending": self.pending,
            "audio_seconds": round(c.audio_seconds, 3),
        }


def _with_duration(transcript: Transcript, duration: float) -> Transcript:
    from dataclasses import replace

    return replace(transcript, duration=duration)
