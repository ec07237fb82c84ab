"""`Transcriber`: transcription whatever the transport: refuse bad uploads cheaply and
clearly (size, extension, not audio, too long, too short) before any model runs, charge
its seconds to the caller's budget (ratelimit.meter; a no-op without one), then hand
the audio to the configured provider (already decoded, to one that takes samples:
`TranscribesSamples`)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from pathlib import PurePath

from shared.audio.decoding import AudioDecodeError, AudioTooLongError, decode, probe
from voice_worker.errors import Busy, InvalidRequest, PayloadTooLarge, VoiceError
from voice_worker.observability import metrics
from voice_worker.ratelimit.limiter import Resource
from voice_worker.ratelimit.meter import charge
from voice_worker.stt.base import STTProvider, TranscribesSamples, Transcript, TranscriptionOptions

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
    param: str = "file"  # the upload's name in the request, for errors


@dataclass
class TranscriptionCounters:
    requests: int = 0
    rejected: int = 0
    audio_seconds: float = 0.0


class Transcriber:
    def __init__(
        self,
        provider: STTProvider,
        max_bytes: int = 25 * 2**20,
        max_seconds: float = 300.0,
        min_seconds: float = 0.1,
        max_pending: int = 32,
    ) -> None:
        self.provider = provider
        # checked once: a provider that takes the samples decoded here, at our rate
        self._samples: TranscribesSamples | None = (
            provider
            if isinstance(provider, TranscribesSamples) and provider.sample_rate == DECODE_RATE
            else None
        )
        self.max_bytes = max_bytes
        self.max_seconds = max_seconds
        self.min_seconds = min_seconds
        self.max_pending = max_pending
        self.pending = 0
        self.counters = TranscriptionCounters()

    def _reject(self, error: VoiceError) -> VoiceError:
        """Count a refused upload (by its code, in the metrics) and return the error."""
        self.counters.rejected += 1
        metrics.upload_rejected(error.code or "invalid_upload")
        return error

    def check_size(self, size: int | None, param: str = "file") -> None:
        """Call as soon as the size is known (before reading the file into memory)."""
        if size is not None and size > self.max_bytes:
            raise self._reject(
                PayloadTooLarge(
                    f"the {param} has {size} bytes; at most {self.max_bytes} are accepted",
                    param=param,
                    code="file_too_large",
                )
            )

    def check_upload(self, upload: Upload) -> None:
        self.check_size(len(upload.data), upload.param)
        suffix = PurePath(upload.filename).suffix.lower().lstrip(".")
        if suffix and suffix not in EXTENSIONS:
            raise self._reject(
                InvalidRequest(
                    f"unsupported file extension '.{suffix}'; "
                    f"supported: {', '.join(sorted(EXTENSIONS))}",
                    param=upload.param,
                    code="invalid_file_format",
                )
            )
        if not upload.data:
            raise self._reject(
                InvalidRequest(
                    f"the uploaded {upload.param} is empty", param=upload.param, code="empty_file"
                )
            )

    async def transcribe(self, upload: Upload, options: TranscriptionOptions) -> Transcript:
        self.counters.requests += 1
        self.check_upload(upload)
        if self.pending >= self.max_pending:
            raise self._reject(
                Busy(
                    f"{self.pending} transcriptions are already running or queued here; retry",
                    code="too_many_pending",
                    retry_after=1,
                )
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
            error = InvalidRequest(str(exc), param=upload.param, code="audio_too_long")
            raise self._reject(error) from None
        except AudioDecodeError as exc:
            raise self._reject(
                InvalidRequest(
                    f"the {upload.param} is not audio we can read ({exc})",
                    param=upload.param,
                    code="invalid_audio",
                )
            ) from None
        if decoded.duration < self.min_seconds:
            raise self._reject(
                InvalidRequest(
                    f"the {upload.param} holds {decoded.duration:.2f} s of audio; at least "
                    f"{self.min_seconds:g} s needed (is it truncated?)",
                    param=upload.param,
                    code="audio_too_short",
                )
            )
        await charge(Resource.AUDIO_SECONDS, decoded.duration)  # the caller's budget
        self.counters.audio_seconds += decoded.duration
        if self._samples is not None:
            transcript = await self._samples.transcribe_samples(decoded.samples, options)
        else:
            transcript = await self.provider.transcribe(upload.data, options)
        if not transcript.duration:
            transcript = replace(transcript, duration=decoded.duration)
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
