"""Encode mono float PCM into audio files, whole or as a stream of chunks.

A stream's chunks concatenate into one valid file, which is what clients that save a
streamed reply expect and where other TTS servers went wrong:
- WAV: one header, first, with the "unknown length" marker (0xFFFFFFFF sizes, as
  FFmpeg and browsers read it) because the length is not known until the end;
- Ogg/Opus: pages are flushed as they fill (`page_duration`), and `close()` returns the
  last page (the one with the end-of-stream flag) instead of dropping it;
- MP3, AAC, FLAC: the muxer writes whole frames per packet; FLAC's STREAMINFO keeps
  "total samples unknown", which decoders accept.
"""

from __future__ import annotations

import io
import struct
from typing import Any

import av
import numpy as np
import numpy.typing as npt

from shared.audio.formats import CODECS, AudioFormat

FloatArray = npt.NDArray[np.float32]

_UNKNOWN_SIZE = 0xFFFFFFFF
# Ogg page length cap in microseconds: bounds how much audio a page holds back.
_OGG_PAGE_DURATION_US = "20000"


def wav_header(sample_rate: int, data_bytes: int | None) -> bytes:
    """A 44-byte PCM s16le mono WAV header; `data_bytes=None` writes the streaming
    marker (sizes 0xFFFFFFFF) because the final length is not known yet."""
    data_size = _UNKNOWN_SIZE if data_bytes is None else data_bytes
    riff_size = _UNKNOWN_SIZE if data_bytes is None else 36 + data_bytes
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        riff_size,
        b"WAVE",
        b"fmt ",
        16,
        1,
        1,
        sample_rate,
        sample_rate * 2,
        2,
        16,
        b"data",
        data_size,
    )


def to_int16(samples: FloatArray) -> npt.NDArray[np.int16]:
    """Float samples in [-1, 1] to s16, clipping anything outside."""
    return (np.clip(samples, -1.0, 1.0) * 32767.0).astype(np.int16)


class _Sink:
    """A write-only file for PyAV: no `seek`, so muxers never rewrite a header that
    has already been sent."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: Any) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def drain(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out


class _SeekableSink(io.BytesIO):
    def drain(self) -> bytes:
        return b""  # nothing leaves before close

    def final(self) -> bytes:
        return self.getvalue()


class StreamEncoder:
    """Encodes successive blocks of mono float PCM at `input_rate` into `fmt` at
    `output_rate` (0: the input rate). `write` returns the bytes ready so far, `close`
    the rest; the concatenation of everything returned is one valid file. `bit_rate`
    (bits per second) applies to the lossy formats; 0 takes the format's default
    (`CodecSpec.bit_rate`: 96 kbit/s for MP3 and AAC)."""

    def __init__(
        self,
        fmt: AudioFormat,
        input_rate: int,
        output_rate: int = 0,
        seekable: bool = False,
        bit_rate: int = 0,
    ) -> None:
        self.format = fmt
        self.input_rate = input_rate
        self.output_rate = output_rate or input_rate
        spec = CODECS.get(fmt)
        codec_rate = (spec.forced_rate if spec else None) or self.output_rate
        self._header_sent = False
        self._closed = False
        # A seekable target lets muxers finish the header at the end (MP3's Xing/LAME
        # gapless info, FLAC's total samples and MD5): only for whole files.
        self._sink: _Sink | _SeekableSink = _SeekableSink() if seekable else _Sink()
        self._container: Any = None
        self._stream: Any = None
        sample_format = "s16"
        if spec is not None:
            options = {"page_duration": _OGG_PAGE_DURATION_US} if spec.container == "ogg" else {}
            self._container = av.open(self._sink, mode="w", format=spec.container, options=options)
            self._stream = self._container.add_stream(spec.codec, rate=codec_rate, layout="mono")
            if bit_rate or spec.bit_rate:
                self._stream.bit_rate = bit_rate or spec.bit_rate
            sample_format = self._stream.codec_context.format.name
        self._resampler = (
            av.AudioResampler(format=sample_format, layout="mono", rate=codec_rate)
            if spec is not None or codec_rate != input_rate
            else None
        )

    def write(self, samples: FloatArray) -> bytes:
        """Encode one block; returns the encoded bytes available now (maybe empty)."""
        if self._closed:
            raise RuntimeError("write after close")
        if samples.size == 0:
            return self._take_header()
        return self._encode(self._frame(samples))

    def close(self) -> bytes:
        """Flush the resampler, encoder and muxer; returns the file's last bytes."""
        if self._closed:
            return b""
        out = self._encode(None)
        self._closed = True
        if self._container is not None:
            self._container.close()
            out += (
                self._sink.final() if isinstance(self._sink, _SeekableSink) else self._sink.drain()
            )
        return out

    def _frame(self, samples: FloatArray) -> av.AudioFrame:
        pcm = to_int16(np.asarray(samples, dtype=np.float32).reshape(-1))
        frame = av.AudioFrame.from_ndarray(pcm[None, :], format="s16", layout="mono")
        frame.sample_rate = self.input_rate
        return frame

    def _encode(self, frame: av.AudioFrame | None) -> bytes:
        frames = self._resampler.resample(frame) if self._resampler else ([frame] if frame else [])
        if self._container is None:  # WAV and PCM: raw s16le after the header
            body = b"".join(bytes(f.to_ndarray().astype("<i2").tobytes()) for f in frames)
            return self._take_header() + body
        for resampled in frames:
            for packet in self._stream.encode(resampled):
                self._container.mux(packet)
        if frame is None:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
        return self._sink.drain()

    def _take_header(self) -> bytes:
        if self._header_sent or self.format is not AudioFormat.WAV:
            return b""
        self._header_sent = True
        return wav_header(self.output_rate, None)


def encode(
    samples: FloatArray,
    sample_rate: int,
    fmt: AudioFormat,
    output_rate: int = 0,
    bit_rate: int = 0,
) -> bytes:
    """Encode a whole utterance. WAV gets exact sizes in its header (not the streaming
    marker), since the length is known."""
    encoder = StreamEncoder(fmt, sample_rate, output_rate, seekable=True, bit_rate=bit_rate)
    data = encoder.write(samples) + encoder.close()
    if fmt is AudioFormat.WAV:
        body = data[44:]
        return wav_header(encoder.output_rate, len(body)) + body
    return data
