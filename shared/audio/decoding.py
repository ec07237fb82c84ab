"""Decode audio bytes (any container FFmpeg reads) to mono float32 at a chosen rate,
and probe a file's container, codec and length without decoding it."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import av
import numpy as np
import numpy.typing as npt


class AudioDecodeError(ValueError):
    """The bytes are not audio FFmpeg can read, or hold no audio stream."""


class AudioTooLongError(AudioDecodeError):
    """The audio lasts longer than the caller allows."""

    def __init__(self, seconds: float, limit: float) -> None:
        super().__init__(f"the audio lasts {seconds:.1f} s, longer than the {limit:g} s allowed")
        self.seconds = seconds
        self.limit = limit


@dataclass(frozen=True)
class DecodedAudio:
    samples: npt.NDArray[np.float32]
    sample_rate: int
    source_rate: int
    source_channels: int
    container: str

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


@dataclass(frozen=True)
class AudioInfo:
    container: str
    codec: str
    sample_rate: int
    channels: int
    duration: float | None  # from the container's header; None when it does not say


def probe(data: bytes) -> AudioInfo:
    """Read the header only: cheap, and enough to refuse non-audio or, where the
    container records it, over-long audio before decoding anything."""
    if not data:
        raise AudioDecodeError("the file is empty")
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.audio:
                raise AudioDecodeError("the file has no audio stream")
            stream = container.streams.audio[0]
            duration: float | None = None
            if stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                duration = container.duration / av.time_base
            return AudioInfo(
                container.format.name,
                stream.codec_context.name,
                stream.codec_context.sample_rate,
                stream.codec_context.channels,
                duration,
            )
    except AudioDecodeError:
        raise
    except (av.FFmpegError, ValueError, IndexError, OSError) as exc:
        raise AudioDecodeError(f"not a readable audio file: {exc}") from exc


def decode(
    data: bytes, sample_rate: int | None = None, max_seconds: float | None = None
) -> DecodedAudio:
    """Decode `data`, down-mixed to mono and resampled to `sample_rate` (None keeps the
    source rate). Raises AudioDecodeError with FFmpeg's reason on bad input, and
    AudioTooLongError as soon as more than `max_seconds` have been decoded."""
    if not data:
        raise AudioDecodeError("the file is empty")
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.audio:
                raise AudioDecodeError("the file has no audio stream")
            stream = container.streams.audio[0]
            source_rate = stream.codec_context.sample_rate
            channels = stream.codec_context.channels
            rate = sample_rate or source_rate
            limit = None if max_seconds is None else int(max_seconds * rate) + 1
            resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
            parts: list[npt.NDArray[Any]] = []
            total = 0
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    parts.append(out.to_ndarray().reshape(-1))
                    total += parts[-1].size
                if limit is not None and total > limit:
                    raise AudioTooLongError(total / rate, float(max_seconds or 0))
            parts += [out.to_ndarray().reshape(-1) for out in resampler.resample(None)]
            name = container.format.name
    except AudioDecodeError:
        raise
    except (av.FFmpegError, ValueError, IndexError, OSError) as exc:
        raise AudioDecodeError(f"not a readable audio file: {exc}") from exc
    samples = np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)
    return DecodedAudio(samples, rate, source_rate, channels, name)
