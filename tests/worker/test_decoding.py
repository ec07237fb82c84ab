"""The upload checks in shared/audio/decoding.py: probe without decoding, and a decode
that stops as soon as the audio runs past the limit (for containers whose header does
not say how long they are)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from harness.processes import DATA
from shared.audio.decoding import AudioDecodeError, AudioTooLongError, decode, probe
from shared.audio.encoding import encode
from shared.audio.formats import AudioFormat


def test_probe_reads_the_header() -> None:
    info = probe((DATA / "jfk.flac").read_bytes())
    assert (info.container, info.codec, info.sample_rate, info.channels) == (
        "flac",
        "flac",
        44100,
        2,
    )
    assert info.duration == pytest.approx(11.0, abs=0.01)


def test_decode_stops_at_the_limit() -> None:
    samples = np.zeros(16000 * 120, np.float32)  # two minutes of silence
    data = encode(samples, 16000, AudioFormat.AAC)  # ADTS: no duration in any header
    start = time.perf_counter()
    with pytest.raises(AudioTooLongError, match="longer than the 5 s allowed"):
        decode(data, 16000, max_seconds=5)
    assert time.perf_counter() - start < 1.0
    assert decode(data, 16000, max_seconds=200).duration == pytest.approx(120, abs=0.2)


@pytest.mark.parametrize("data", [b"", b"\x00" * 10, b"RIFF....WAVEfmt "])
def test_garbage_is_a_decode_error(data: bytes) -> None:
    with pytest.raises(AudioDecodeError):
        probe(data)
    with pytest.raises(AudioDecodeError):
        decode(data, 16000)
