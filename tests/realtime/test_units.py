"""The parts of the realtime transport that need no server: the turn detector on known
audio, the words a listener heard, the protocol's parsing (field paths, unknown fields,
beta names)."""

from __future__ import annotations

import base64
import json
from functools import cache

import numpy as np
import pytest

from harness.processes import DATA
from shared.audio.decoding import decode
from tests.realtime.support import jfk_pcm, silence
from voice_worker.conversation.heard import SpokenReply, leading_words
from voice_worker.errors import InvalidRequest
from voice_worker.realtime.audio import Downsampler, voiced_span
from voice_worker.realtime.beta import server_from_ga
from voice_worker.realtime.events import event
from voice_worker.realtime.protocol import BadEvent, parse_event
from voice_worker.realtime.vad import (
    FRAME_MS,
    SilenceBegan,
    SpeechResumed,
    SpeechStarted,
    SpeechStopped,
    TurnDetector,
    VadConfig,
    VadEvent,
    shared_model,
)


def detect(pcm: bytes, config: VadConfig, early_ms: int = -1, piece: int = 960) -> list[VadEvent]:
    detector, downsampler = TurnDetector(shared_model(), config, early_ms), Downsampler()
    found: list[VadEvent] = []
    for i in range(0, len(pcm), piece):
        found += detector.feed(downsampler.feed(pcm[i : i + piece]))
    return found


@cache
def question() -> tuple[bytes, int, int]:
    """A synthesized question (clean edges) after 1 s of silence: (pcm16 24 kHz, where
    its sound starts and ends in ms: 10 ms windows at 5% of the loudest)."""
    samples = decode((DATA / "question.flac").read_bytes(), 24_000).samples
    windows = samples[: len(samples) // 240 * 240].reshape(-1, 240)
    rms = np.sqrt(np.mean(np.square(windows), axis=1))
    loud = np.flatnonzero(rms >= 0.05 * rms.max())
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()
    return silence(1.0) + pcm + silence(1.5), 1000 + loud[0] * 10, 1000 + (loud[-1] + 1) * 10


def test_speech_starts_and_stops_within_a_frame_of_the_sound() -> None:
    pcm, start, end = question()
    found = detect(pcm, VadConfig(silence_duration_ms=500), early_ms=96)
    assert [type(e) for e in found] == [SpeechStarted, SilenceBegan, SpeechStopped]
    started, early, stopped = found
    assert isinstance(started, SpeechStarted) and isinstance(stopped, SpeechStopped)
    assert abs(started.at_ms - start) <= FRAME_MS
    assert abs(stopped.speech_end_ms - end) <= FRAME_MS
    assert stopped.at_ms == stopped.speech_end_ms + 512  # the window, to the frame
    assert isinstance(early, SilenceBegan) and early.at_ms == stopped.speech_end_ms


def test_the_detector_does_not_depend_on_how_the_audio_is_cut() -> None:
    pcm = jfk_pcm() + silence(2.0)
    config = VadConfig(silence_duration_ms=300)
    in_frames = detect(pcm, config, 96)
    assert detect(pcm, config, 96, piece=len(pcm)) == in_frames  # one append, one ONNX call
    assert detect(pcm, config, 96, piece=4802) == in_frames
    starts = [e for e in in_frames if isinstance(e, SpeechStarted)]
    stops = [e for e in in_frames if isinstance(e, SpeechStopped)]
    assert len(starts) == len(stops) >= 3  # jfk.flac pauses between its phrases
    assert SpeechResumed() in in_frames  # a pause shorter than the window, after early


def test_a_long_window_hears_jfk_as_one_turn() -> None:
    found = detect(jfk_pcm() + silence(2.0), VadConfig(silence_duration_ms=1500))
    assert [type(e) for e in found] == [SpeechStarted, SpeechStopped]


def test_heard_text_follows_the_voice() -> None:
    reply = SpokenReply()
    reply.add(1.0, "One two three four.", 0.0, voiced=(0.1, 0.9))
    reply.add(1.0, "Five six.", 1.0, voiced=(0.0, 0.8))
    assert reply.heard(0.05) == ""
    assert reply.heard(0.5) == "One two"  # half the voiced span: words whose middle played
    assert reply.heard(0.95) == "One two three four."  # its voice had ended
    assert reply.heard(1.5) == "One two three four. Five"
    assert reply.heard(99) == "One two three four. Five six."  # clamped to what went out
    assert leading_words("a bb ccc", 0.0) == "" and leading_words("a bb ccc", 1.0) == "a bb ccc"


def test_voiced_span() -> None:
    quiet, loud = b"\0\0" * 240, (np.full(480, 8000, "<i2")).tobytes()
    assert voiced_span(quiet) is None
    assert voiced_span(quiet + loud + quiet) == pytest.approx((0.01, 0.03))


@pytest.mark.parametrize(
    ("message", "code", "param"),
    [
        ('{"type": "session.update", "session": {"type": "realtime", "audio": '
         '{"input": {"turn_detection": {"type": "server_vad", "threshold": "high"}}}}}',
         "invalid_value", "session.audio.input.turn_detection.threshold"),
        ('{"type": "session.update", "session": {"type": "realtime", "audio": '
         '{"output": {"voice": "x", "colour": "blue"}}}}',
         "unknown_parameter", "session.audio.output.colour"),
        ('{"type": "conversation.item.truncate", "item_id": "i", "audio_end_ms": 1}',
         "invalid_value", "content_index"),
    ],
)  # fmt: skip
def test_a_bad_event_names_its_field(message: str, code: str, param: str) -> None:
    with pytest.raises(BadEvent) as bad:
        parse_event(message, "ga")
    assert isinstance(bad.value.error, InvalidRequest)
    assert (bad.value.error.code, bad.value.error.param) == (code, param)


def test_beta_events_in_and_out() -> None:
    update = parse_event(
        json.dumps(
            {
                "type": "session.update",
                "session": {
                    "voice": "alloy",
                    "input_audio_format": "pcm16",
                    "turn_detection": {"silence_duration_ms": 300},
                    "modalities": ["text", "audio"],
                },
            }
        ),
        "beta",
    )
    session = update.model_dump(exclude_unset=True)["session"]
    assert session["audio"]["output"]["voice"] == "alloy"
    assert session["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert session["audio"]["input"]["turn_detection"]["type"] == "server_vad"
    assert session["output_modalities"] == ["audio"]
    from openai.types.realtime import ResponseAudioDeltaEvent

    ga = event(
        ResponseAudioDeltaEvent,
        response_id="r",
        item_id="i",
        output_index=0,
        content_index=0,
        delta=base64.b64encode(b"\0\0").decode(),
    )
    beta = server_from_ga(ga)
    assert beta is not None and beta.model_dump()["type"] == "response.audio.delta"
