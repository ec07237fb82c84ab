"""The protocol's audio inside: pcm16 (s16le) mono at 24 kHz, base64 in JSON (what a
client may send or hear instead, G.711, is realtime/formats.py's).

`Downsampler` turns the 24 kHz input into the 16 kHz float samples the VAD
reads, chunk by chunk (PyAV's resampler keeps its filter state between chunks);
`wav` wraps a committed buffer as a file for the worker's transcriber."""

from __future__ import annotations

import base64

import av
import numpy as np
import numpy.typing as npt

from shared.audio.encoding import wav_header

RATE = 24_000  # the protocol's pcm16 rate, in and out
BYTES_PER_MS = RATE * 2 // 1000  # 48
VAD_RATE = 16_000


def encode_audio(pcm: bytes) -> str:
    return base64.b64encode(pcm).decode("ascii")


def milliseconds(size: int) -> int:
    """How long `size` bytes of the protocol's pcm16 last, in whole milliseconds."""
    return size // BYTES_PER_MS


def voiced_span(pcm: bytes, loud: float = 0.03) -> tuple[float, float] | None:
    """Where in `pcm` the voice is (first and last sample louder than `loud` of full
    scale), in seconds; None for silence."""
    samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2")
    found = np.flatnonzero(np.abs(samples.astype(np.int32)) > loud * 32768)
    if not len(found):
        return None
    return float(found[0]) / RATE, float(found[-1] + 1) / RATE


def wav(pcm: bytes) -> bytes:
    return wav_header(RATE, len(pcm)) + pcm


class Downsampler:
    """24 kHz pcm16 in, 16 kHz float32 out, as a stream."""

    def __init__(self) -> None:
        self._resampler = av.AudioResampler(format="flt", layout="mono", rate=VAD_RATE)

    def feed(self, pcm: bytes) -> npt.NDArray[np.float32]:
        if not pcm:
            return np.zeros(0, dtype=np.float32)
        samples = np.frombuffer(pcm, dtype="<i2").reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = RATE
        out = [f.to_ndarray().reshape(-1) for f in self._resampler.resample(frame)]
        return np.concatenate(out).astype(np.float32) if out else np.zeros(0, dtype=np.float32)
