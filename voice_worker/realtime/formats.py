"""The audio formats a client may choose (`session.audio.input.format`,
`.output.format`; beta `input_audio_format` / `output_audio_format`): `audio/pcm`
(pcm16 at 24 kHz), `audio/pcmu` (G.711 μ-law, 8 kHz) and `audio/pcma` (G.711 A-law,
8 kHz), as OpenAI defines them.

Inside, audio is always the protocol's pcm16 at 24 kHz (the input buffer, the VAD's
feed, the transcriber's file, a response's audio), so the ms the protocol reports
(`audio_start_ms`, `audio_end_ms`, truncation) are ms of the caller's audio whatever
its format. `InputDecoder` turns what a client appends into that (G.711 decoded by
shared/audio/g711.py, then resampled 8 to 24 kHz as a stream), `OutputEncoder` a
response's audio into the client's format (resampled 24 to 8 kHz, then encoded). Each
keeps its resampler's state between chunks; a new one starts with a new format (input)
or a new response (output)."""

from __future__ import annotations

import base64
import binascii
from typing import Any, Literal, cast

import av
import numpy as np

from shared.audio import g711
from voice_worker.errors import InvalidRequest
from voice_worker.realtime.audio import RATE

Format = Literal["audio/pcm", "audio/pcmu", "audio/pcma"]
FORMATS: tuple[Format, ...] = ("audio/pcm", "audio/pcmu", "audio/pcma")
LAWS: dict[Format, g711.Law] = {"audio/pcmu": "ulaw", "audio/pcma": "alaw"}


def format_object(fmt: Format) -> dict[str, Any]:
    """The format as the protocol's objects report it."""
    return {"type": fmt, "rate": RATE} if fmt == "audio/pcm" else {"type": fmt}


def parse_format(value: Any, param: str) -> Format | None:
    """The format a request's format object names (None: it names none)."""
    kind = getattr(value, "type", None) if value is not None else None
    if kind is None:
        return None
    if kind not in FORMATS:
        raise InvalidRequest(
            f"{param}: use audio/pcm, audio/pcmu or audio/pcma", param=param, code="invalid_value"
        )
    return cast(Format, kind)


def _base64(text: str, param: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest(
            f"{param} is not base64 (audio in the session's input format, base64-encoded)",
            param=param,
            code="invalid_base64",
        ) from None


class _Resampler:
    """pcm16 mono from one rate to another, as a stream."""

    def __init__(self, source: int, target: int) -> None:
        self.source = source
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=target)

    def feed(self, samples: np.ndarray[Any, np.dtype[np.int16]]) -> bytes:
        if not samples.size:
            return b""
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = self.source
        return b"".join(
            f.to_ndarray().astype("<i2").tobytes() for f in self._resampler.resample(frame)
        )


class InputDecoder:
    """An `audio` field of `input_audio_buffer.append`, in the session's input format,
    to pcm16 at 24 kHz."""

    def __init__(self, fmt: Format) -> None:
        self.format = fmt
        self.law = LAWS.get(fmt)
        self._upsampler = _Resampler(g711.RATE, RATE) if self.law else None

    def payload(self, text: str, param: str = "audio") -> bytes:
        """The audio as sent (base64 decoded), checked for whole samples."""
        data = _base64(text, param)
        if self.law is None and len(data) % 2:
            raise InvalidRequest(
                f"{param} holds {len(data)} bytes, not whole 16-bit samples",
                param=param,
                code="invalid_audio",
            )
        return data

    def pcm(self, data: bytes) -> bytes:
        """The payload as pcm16 at 24 kHz."""
        if self.law is None or self._upsampler is None:
            return data
        return self._upsampler.feed(g711.decode(data, self.law))


class OutputEncoder:
    """A response's pcm16 24 kHz audio, chunk by chunk, in the client's output format."""

    def __init__(self, fmt: Format) -> None:
        self.format = fmt
        self.law = LAWS.get(fmt)
        self._downsampler = _Resampler(RATE, g711.RATE) if self.law else None

    def encode(self, pcm: bytes) -> bytes:
        if self.law is None or self._downsampler is None:
            return pcm
        samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2")
        narrow = np.frombuffer(self._downsampler.feed(samples), dtype="<i2")
        return g711.encode(narrow, self.law)
