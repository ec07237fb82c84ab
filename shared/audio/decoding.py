"""Decode audio bytes (any container FFmpeg reads) to mono float32 at a chosen rate."""

from __future__ import annotations

import io
from dataclasses import dataclass

import av
import numpy as np
import numpy.typing as npt


class AudioDecodeError(ValueError):
    """The bytes are not audio FFmpeg can read, or hold no audio stream."""


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


def decode(data: bytes, sample_rate: int | None = None) -> DecodedAudio:
    """Decode `data`, down-mixed to mono and resampled to `sample_rate` (None keeps the
    source rate). Raises AudioDecodeError with FFmpeg's reason on bad input."""
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.audio:
                raise AudioDecodeError("the file has no audio stream")
            stream = container.streams.audio[0]
            source_rate = stream.codec_context.sample_rate
            channels = stream.codec_context.channels
            rate = sample_rate or source_rate
            resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
            parts = [
                out.to_ndarray().reshape(-1)
                for frame in container.decode(stream)
                for out in resampler.resample(frame)
            ]
            parts += [out.to_ndarray().reshape(-1) for out in resampler.resample(None)]
            name = container.format.name
    except av.FFmpegError as exc:
        raise AudioDecodeError(f"not a readable audio file: {exc}") from exc
    samples = np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)
    return DecodedAudio(samples, rate, source_rate, channels, name)
