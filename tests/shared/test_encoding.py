"""Audio encoding: every format decodes to the right rate and duration, and a stream's
chunks concatenate into one valid file."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
import soundfile

from shared.audio.decoding import AudioDecodeError, decode
from shared.audio.encoding import StreamEncoder, encode
from shared.audio.formats import AudioFormat

RATE = 22_050


def tone(seconds: float, rate: int = RATE, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def expected_rate(fmt: AudioFormat, requested: int) -> int:
    return 48_000 if fmt is AudioFormat.OPUS else requested


@pytest.mark.parametrize("fmt", [f for f in AudioFormat if f is not AudioFormat.PCM])
@pytest.mark.parametrize("output_rate", [0, 16_000])
def test_whole_file_decodes_with_rate_and_duration(fmt: AudioFormat, output_rate: int) -> None:
    data = encode(tone(1.5), RATE, fmt, output_rate)
    decoded = decode(data)
    assert decoded.sample_rate == expected_rate(fmt, output_rate or RATE)
    # MP3 carries its priming in the LAME header; ADTS AAC cannot (up to 2 frames more)
    tolerance = 0.12 if fmt is AudioFormat.AAC else 0.03
    assert decoded.duration == pytest.approx(1.5, abs=tolerance)
    # the tone survives: its dominant frequency is still 440 Hz
    spectrum = np.abs(np.fft.rfft(decoded.samples))
    peak_hz = np.argmax(spectrum) * decoded.sample_rate / len(decoded.samples)
    assert peak_hz == pytest.approx(440, abs=10)


def test_pcm_is_raw_s16le_at_the_requested_rate() -> None:
    data = encode(tone(1.0), RATE, AudioFormat.PCM, 24_000)
    assert len(data) == pytest.approx(24_000 * 2, abs=64)
    samples = np.frombuffer(data, "<i2")
    assert 0.45 < samples.max() / 32767 < 0.55


def test_whole_wav_has_exact_sizes() -> None:
    data = encode(tone(1.0), RATE, AudioFormat.WAV)
    riff_size, data_size = (
        struct.unpack_from("<I", data, 4)[0],
        struct.unpack_from("<I", data, 40)[0],
    )
    assert riff_size == len(data) - 8
    assert data_size == len(data) - 44
    info = soundfile.info(io.BytesIO(data))
    assert (info.samplerate, info.channels, info.frames) == (RATE, 1, RATE)


def stream_chunks(fmt: AudioFormat, blocks: int = 5, seconds: float = 0.6) -> list[bytes]:
    encoder = StreamEncoder(fmt, RATE)
    chunks = [encoder.write(tone(seconds, freq=300 + 50 * i)) for i in range(blocks)]
    return [*chunks, encoder.close()]


@pytest.mark.parametrize("fmt", list(AudioFormat))
def test_stream_concatenates_into_one_valid_file(fmt: AudioFormat) -> None:
    chunks = stream_chunks(fmt)
    data = b"".join(chunks)
    if fmt is AudioFormat.PCM:
        assert len(data) == 5 * int(0.6 * RATE) * 2
        return
    decoded = decode(data)
    # a stream cannot go back to write gapless info: MP3/AAC keep their priming frames
    assert decoded.duration == pytest.approx(3.0, abs=0.12)
    # audio leaves the encoder as it goes, not only at close
    assert sum(1 for c in chunks[:-1] if c) >= 3


def test_streamed_wav_has_one_header_with_the_unknown_length_marker() -> None:
    data = b"".join(stream_chunks(AudioFormat.WAV))
    assert data.count(b"RIFF") == 1 and data.count(b"WAVE") == 1
    assert struct.unpack_from("<I", data, 40)[0] == 0xFFFFFFFF


def test_streamed_ogg_chunks_are_whole_pages_and_the_last_page_is_kept() -> None:
    chunks = [c for c in stream_chunks(AudioFormat.OPUS) if c]
    assert all(c.startswith(b"OggS") for c in chunks)
    last_page = chunks[-1][chunks[-1].rfind(b"OggS") :]
    assert last_page[5] & 0x04, "the end-of-stream page is missing"


def test_streamed_mp3_chunks_start_on_frame_boundaries() -> None:
    chunks = [c for c in stream_chunks(AudioFormat.MP3) if c]
    for chunk in chunks[1:]:  # the first may open with an ID3/Xing header
        assert chunk[0] == 0xFF and chunk[1] & 0xE0 == 0xE0


def test_decode_downmixes_and_resamples_real_speech() -> None:
    from harness.processes import DATA

    decoded = decode((DATA / "jfk.flac").read_bytes(), sample_rate=16_000)
    assert (decoded.source_rate, decoded.source_channels) == (44_100, 2)
    assert decoded.sample_rate == 16_000
    assert decoded.duration == pytest.approx(11.0, abs=0.1)
    assert decoded.samples.ndim == 1


@pytest.mark.parametrize("data", [b"", b"hello, this is text", b"RIFF\x00\x00\x00\x00WAVEfmt "])
def test_decode_rejects_non_audio(data: bytes) -> None:
    with pytest.raises(AudioDecodeError):
        decode(data)
