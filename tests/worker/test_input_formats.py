"""What browsers and phones upload: webm/opus, ogg/opus, mp3, m4a (AAC in MP4), wav and
flac, at various sample rates and channel counts, all transcribed alike."""

from __future__ import annotations

import io
from typing import Any

import av
import numpy as np
import openai
import pytest

from harness.processes import DATA, JFK_TRANSCRIPT, word_error_rate
from shared.audio.decoding import decode

JFK = (DATA / "jfk.flac").read_bytes()


def encode_as(container: str, codec: str, rate: int, channels: int) -> bytes:
    """jfk.flac re-encoded as `codec` in `container`, at `rate` Hz and `channels`."""
    mono = decode(JFK, rate).samples
    layout = "stereo" if channels == 2 else "mono"
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container) as out:
        stream: Any = out.add_stream(codec, rate=rate, layout=layout)
        fmt = stream.codec_context.format.name
        planar = np.tile(mono, (channels, 1)).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(planar, format="fltp", layout=layout)
        frame.sample_rate = rate
        resampler = av.AudioResampler(format=fmt, layout=layout, rate=rate)
        for resampled in resampler.resample(frame):
            for packet in stream.encode(resampled):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buffer.getvalue()


CASES = [
    ("speech.webm", "webm", "libopus", 48000, 2),
    ("speech.ogg", "ogg", "libopus", 48000, 1),
    ("speech.mp3", "mp3", "libmp3lame", 16000, 1),
    ("speech.m4a", "ipod", "aac", 44100, 2),
    ("speech.wav", "wav", "pcm_s16le", 8000, 1),
    ("speech.flac", "flac", "flac", 96000, 2),
]


@pytest.mark.parametrize(
    ("name", "container", "codec", "rate", "channels"), CASES, ids=[c[0] for c in CASES]
)
def test_uploads_from_browsers_and_phones(
    client: openai.OpenAI, name: str, container: str, codec: str, rate: int, channels: int
) -> None:
    data = encode_as(container, codec, rate, channels)
    result = client.audio.transcriptions.create(
        model="whisper-1", file=(name, data), response_format="verbose_json"
    )
    assert result.duration == pytest.approx(11.0, abs=0.1)
    assert word_error_rate(JFK_TRANSCRIPT, result.text) <= 0.15, result.text


def test_content_decides_not_the_extension(client: openai.OpenAI) -> None:
    """A FLAC file named .mp3 (a common mislabel) is still read by its content."""
    result = client.audio.transcriptions.create(model="whisper-1", file=("jfk.mp3", JFK))
    assert word_error_rate(JFK_TRANSCRIPT, result.text) <= 0.15
