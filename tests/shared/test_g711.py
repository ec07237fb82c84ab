"""G.711 against the ITU's numbers: the codes and levels of G.711's tables 1 and 2
(in 16-bit terms: A-law's 13 bits times 8, μ-law's 14 bits times 4), G.191's
reference encoder at its decision points, FFmpeg's decoders (an implementation of
their own) on all 256 codes, and the round trip."""

from __future__ import annotations

from typing import Any

import av
import numpy as np
import pytest

from shared.audio import g711

EVERY_SAMPLE = np.arange(-32768, 32768, dtype=np.int16)
EVERY_CODE = bytes(range(256))


def decoded(codes: list[int], law: g711.Law) -> list[int]:
    return [int(v) for v in g711.decode(bytes(codes), law)]


def encoded(samples: list[int], law: g711.Law) -> list[int]:
    return list(g711.encode(np.array(samples, dtype=np.int16), law))


def test_the_levels_of_the_itu_tables() -> None:
    # μ-law (table 2): 0xFF and 0x7F are zero, 0xFE the first step (2 in 14 bits),
    # 0x80 / 0x00 the ends (±8031 in 14 bits); 0xF0 the top of the first segment (30),
    # 0xEF the start of the second (33)
    assert decoded([0xFF, 0x7F, 0xFE, 0x7E, 0x80, 0x00, 0xF0, 0xEF], "ulaw") == [
        0,
        0,
        8,
        -8,
        32124,
        -32124,
        4 * 30,
        4 * 33,
    ]
    # A-law (table 1): 0xD5 / 0x55 the smallest (±1 in 13 bits), 0xAA / 0x2A the ends
    # (±4032); 0xDA the top of segment 0 (31), 0xC5 and 0xF5 the starts of segments 1
    # and 2 (33, 66)
    assert decoded([0xD5, 0x55, 0xAA, 0x2A, 0xDA, 0xC5, 0xF5], "alaw") == [
        8,
        -8,
        32256,
        -32256,
        8 * 31,
        8 * 33,
        8 * 66,
    ]


def test_the_reference_encoder_at_its_decision_points() -> None:
    # μ-law: 14-bit 0 codes 0xFF, 1 starts 0xFE; a negative sample's one's complement
    # is its magnitude, so -1 is negative zero (0x7F) and -5 (14-bit -2) is 0x7E
    assert encoded([0, 3, 4, -1, -4, -5, 32767, -32768], "ulaw") == [
        0xFF,
        0xFF,
        0xFE,
        0x7F,
        0x7F,
        0x7E,
        0x80,
        0x00,
    ]
    # A-law: 13-bit 0 and 1 code 0xD5, 2 starts 0xD4; the ends code 0xAA / 0x2A
    assert encoded([0, 15, 16, -1, -16, -17, 32767, -32768], "alaw") == [
        0xD5,
        0xD5,
        0xD4,
        0x55,
        0x55,
        0x54,
        0xAA,
        0x2A,
    ]


@pytest.mark.parametrize("law", ["ulaw", "alaw"])
def test_the_encoder_is_symmetric_in_ones_complement(law: g711.Law) -> None:
    positive = EVERY_SAMPLE[EVERY_SAMPLE >= 0]
    plus = np.frombuffer(g711.encode(positive, law), np.uint8)
    minus = np.frombuffer(g711.encode(~positive, law), np.uint8)
    assert (plus ^ minus == 0x80).all()


@pytest.mark.parametrize(("law", "codec"), [("ulaw", "pcm_mulaw"), ("alaw", "pcm_alaw")])
def test_the_decoder_agrees_with_ffmpeg_on_every_code(law: g711.Law, codec: str) -> None:
    context: Any = av.CodecContext.create(codec, "r")
    context.sample_rate, context.layout = 8000, "mono"
    frames = context.decode(av.Packet(EVERY_CODE))
    theirs = np.concatenate([f.to_ndarray().reshape(-1) for f in frames])
    assert (theirs == g711.decode(EVERY_CODE, law)).all()


@pytest.mark.parametrize("law", ["ulaw", "alaw"])
def test_every_level_encodes_to_its_own_code(law: g711.Law) -> None:
    levels = g711.decode(EVERY_CODE, law)
    again = g711.encode(levels, law)
    zero = {"ulaw": {0x7F: 0xFF}, "alaw": {}}[law]  # μ-law's negative zero is zero
    assert list(again) == [zero.get(c, c) for c in EVERY_CODE]
    assert (g711.decode(again, law) == levels).all()


@pytest.mark.parametrize(("law", "worst"), [("ulaw", 1024 // 2 + 132), ("alaw", 1024 // 2)])
def test_every_sample_comes_back_within_its_step(law: g711.Law, worst: int) -> None:
    back = g711.decode(g711.encode(EVERY_SAMPLE, law), law).astype(np.int32)
    error = np.abs(back - EVERY_SAMPLE.astype(np.int32))
    assert error.max() <= worst
    small = np.abs(EVERY_SAMPLE.astype(np.int32)) < 240  # the finest steps: 8 and 16
    assert error[small].max() <= 8


def test_a_tone_survives_the_round_trip() -> None:
    t = np.arange(8000) / 8000
    tone = (np.sin(2 * np.pi * 440 * t) * 16000).astype(np.int16)
    for law in ("ulaw", "alaw"):
        data = g711.encode(tone, law)
        assert len(data) == len(tone)
        back = g711.decode(data, law).astype(np.float64)
        noise = back - tone
        snr = 10 * np.log10(np.mean(tone.astype(np.float64) ** 2) / np.mean(noise**2))
        assert snr > 35, (law, snr)  # G.711's ~38 dB for a loud tone
