"""ITU-T G.711 (μ-law and A-law, 8 bits a sample at 8 kHz, as phones carry it), by
table: the 256 codes to 16-bit linear, and every 16-bit sample to its code.

The tables are computed once, with numpy, from the ITU's reference code (G.191's
g711.c: `ulaw_compress` / `ulaw_expand`, `alaw_compress` / `alaw_expand`), which reads
16-bit samples as 14 (μ-law) or 13 (A-law) bits left-justified and takes a negative
sample's one's complement as its magnitude. Decoding gives each code's mid-point in
16 bits (μ-law 0x80: 32124, A-law 0xAA: 32256); the silent codes are 0xFF (μ-law) and
0xD5 (A-law). Sun's g711.c (Python's `audioop`, gone in 3.13) negates where G.191
complements, so its μ-law differs at 508 negative decision points; FFmpeg's encoder
rounds to the nearest level. Both decode as G.191 does."""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

Law = Literal["ulaw", "alaw"]
RATE = 8000
Int16Array = npt.NDArray[np.int16]


def _ulaw_decode_table() -> Int16Array:
    code = np.arange(256, dtype=np.int32)
    complement = ~code
    exponent = (complement >> 4) & 0x07
    step = 4 << (exponent + 1)
    magnitude = (0x80 << exponent) + step * (complement & 0x0F) + step // 2 - 4 * 33
    return np.where(code < 0x80, -magnitude, magnitude).astype(np.int16)


def _alaw_decode_table() -> Int16Array:
    code = np.arange(256, dtype=np.int32)
    ix = (code ^ 0x55) & 0x7F
    exponent, mantissa = ix >> 4, ix & 0x0F
    mantissa = (np.where(exponent > 0, mantissa + 16, mantissa) << 4) + 0x08
    magnitude: npt.NDArray[np.int32] = mantissa << np.maximum(exponent - 1, 0)
    return np.where(code > 127, magnitude, -magnitude).astype(np.int16)


def _bit_length(values: npt.NDArray[np.int32]) -> npt.NDArray[np.int32]:
    """How many bits each non-negative value needs (0 for 0)."""
    lengths = np.zeros(values.shape, dtype=np.int32)
    for bit in range(16):
        lengths = np.where(values >> bit, bit + 1, lengths)
    return lengths


def _magnitude(pcm: npt.NDArray[np.int32], shift: int) -> npt.NDArray[np.int32]:
    """G.191's magnitude: the one's complement of a negative sample, shifted right."""
    return np.where(pcm < 0, ~pcm, pcm) >> shift


def _ulaw_encode_table() -> npt.NDArray[np.uint8]:
    pcm = np.arange(-32768, 32768, dtype=np.int32)
    absno = np.minimum(_magnitude(pcm, 2) + 33, 0x1FFF)
    segno = 1 + _bit_length(absno >> 6)
    code = ((8 - segno) << 4) | (0x0F - ((absno >> segno) & 0x0F))
    return _by_uint16(np.where(pcm >= 0, code | 0x80, code).astype(np.uint8))


def _alaw_encode_table() -> npt.NDArray[np.uint8]:
    pcm = np.arange(-32768, 32768, dtype=np.int32)
    ix = _magnitude(pcm, 4)  # 0 to 2047
    exponent = np.maximum(_bit_length(ix) - 4, 0)  # 0 for ix <= 15
    mantissa = np.where(exponent > 0, (ix >> np.maximum(exponent - 1, 0)) - 16, ix)
    code = (exponent << 4) + mantissa
    code = np.where(pcm >= 0, code | 0x80, code)
    return _by_uint16((code ^ 0x55).astype(np.uint8))


def _by_uint16(codes: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """A table built from -32768 up, reordered to be indexed by the sample's 16 bits
    read unsigned (0 first, -1 at 0xFFFF)."""
    return np.roll(codes, -32768)


DECODE: dict[Law, Int16Array] = {"ulaw": _ulaw_decode_table(), "alaw": _alaw_decode_table()}
ENCODE: dict[Law, npt.NDArray[np.uint8]] = {
    "ulaw": _ulaw_encode_table(),
    "alaw": _alaw_encode_table(),
}
#: the code of a silent sample
SILENCE: dict[Law, int] = {"ulaw": 0xFF, "alaw": 0xD5}


def decode(data: bytes, law: Law) -> Int16Array:
    """G.711 bytes to 16-bit samples (one a byte)."""
    return DECODE[law][np.frombuffer(data, dtype=np.uint8)]


def encode(samples: Int16Array, law: Law) -> bytes:
    """16-bit samples to G.711 bytes (one a sample)."""
    index = np.asarray(samples, dtype=np.int16).view(np.uint16)
    return ENCODE[law][index].tobytes()
