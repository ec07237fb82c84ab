"""G.711 in the realtime protocol without a server: a phone's 20 ms μ-law frames become
the 24 kHz audio the buffer holds, at the same times (the turn detector finds the
same turn in ms of the caller's audio), a reply's audio becomes G.711 and back, and
the session's formats as `session.update` sets them and the session reports them, in
GA and in beta names."""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
import pytest
from openai.types.realtime import RealtimeSessionCreateRequest
from openai.types.realtime.realtime_response_create_params import RealtimeResponseCreateParams

from harness.processes import DATA
from shared.audio import g711
from shared.audio.decoding import decode
from tests.realtime.support import jfk_pcm, silence
from voice_worker.errors import InvalidRequest
from voice_worker.realtime.audio import Downsampler
from voice_worker.realtime.beta import server_from_ga
from voice_worker.realtime.config import RealtimeConfig, apply_update, session_object
from voice_worker.realtime.events import event
from voice_worker.realtime.formats import InputDecoder, OutputEncoder
from voice_worker.realtime.protocol import BadEvent, parse_event
from voice_worker.realtime.response_request import response_request
from voice_worker.realtime.vad import SpeechStarted, SpeechStopped, TurnDetector, VadConfig
from voice_worker.realtime.vad import shared_model as vad_model

PHONE_FRAME = 160  # 20 ms of G.711 at 8 kHz, as Twilio Media Streams send it


def phone(law: g711.Law, pcm24: bytes = b"") -> bytes:
    """jfk.flac (or `pcm24`) as a phone carries it: 8 kHz, G.711."""
    if pcm24:
        samples = (np.frombuffer(pcm24, "<i2")[::3] / 32768).astype(np.float32)
    else:
        samples = decode((DATA / "jfk.flac").read_bytes(), g711.RATE).samples
    return g711.encode((np.clip(samples, -1, 1) * 32767).astype(np.int16), law)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def turn(pcm24: bytes) -> tuple[int, int]:
    """Where the turn detector hears jfk start and stop, in ms."""
    detector, downsampler = (
        TurnDetector(vad_model(), VadConfig(silence_duration_ms=1500)),
        Downsampler(),
    )
    found = []
    for i in range(0, len(pcm24), 960):
        found += detector.feed(downsampler.feed(pcm24[i : i + 960]))
    start = next(e.at_ms for e in found if isinstance(e, SpeechStarted))
    stop = next(e.at_ms for e in found if isinstance(e, SpeechStopped))
    return start, stop


@pytest.mark.parametrize("fmt", ["audio/pcmu", "audio/pcma"])
def test_phone_frames_become_the_same_audio_at_the_same_times(fmt: Any) -> None:
    law: g711.Law = "ulaw" if fmt == "audio/pcmu" else "alaw"
    sent = phone(law) + bytes([g711.SILENCE[law]]) * (2 * g711.RATE)
    decoder = InputDecoder(fmt)
    pcm = b"".join(
        decoder.pcm(decoder.payload(b64(sent[i : i + PHONE_FRAME])))
        for i in range(0, len(sent), PHONE_FRAME)
    )
    assert abs(len(pcm) / 48 - len(sent) / 8) <= 3  # ms of 24 kHz pcm16 and of G.711
    frame = np.frombuffer(decoder.pcm(decoder.payload(b64(sent[:PHONE_FRAME]))), "<i2")
    assert len(frame) == 480  # a steady 20 ms out for 20 ms in
    wide = jfk_pcm() + silence(2.0)
    start, stop = turn(pcm)
    wide_start, wide_stop = turn(wide)
    assert abs(start - wide_start) <= 32 and abs(stop - wide_stop) <= 32  # a VAD frame


def test_any_number_of_g711_bytes_is_whole_samples_but_pcm16_needs_pairs() -> None:
    assert len(InputDecoder("audio/pcmu").payload(b64(b"\xff" * 3))) == 3
    with pytest.raises(InvalidRequest) as odd:
        InputDecoder("audio/pcm").payload(b64(b"\0" * 3))
    assert odd.value.code == "invalid_audio"
    with pytest.raises(InvalidRequest) as bad:
        InputDecoder("audio/pcma").payload("%% no")
    assert (bad.value.code, bad.value.param) == ("invalid_base64", "audio")


@pytest.mark.parametrize("law", ["ulaw", "alaw"])
def test_a_reply_goes_out_as_g711_in_half_second_deltas(law: g711.Law) -> None:
    pcm = jfk_pcm()[: 24_000 * 2 * 4]
    encoder = OutputEncoder("audio/pcmu" if law == "ulaw" else "audio/pcma")
    step = 24_000  # 0.5 s of pcm16 at 24 kHz, as a response cuts its deltas
    deltas = [encoder.encode(pcm[i : i + step]) for i in range(0, len(pcm), step)]
    assert all(abs(len(d) - 4000) <= 16 for d in deltas)  # 0.5 s at 8 kHz, bar 2 ms held
    narrow = g711.decode(b"".join(deltas), law).astype(np.float64)
    reference = np.frombuffer(phone(law, pcm), np.uint8)
    expected = g711.decode(reference.tobytes(), law).astype(np.float64)[: len(narrow)]
    correlation = np.corrcoef(narrow[16:], expected[16:])[0, 1]  # aligned, same sound
    assert correlation > 0.95, correlation


def update(session: dict[str, Any], config: RealtimeConfig | None = None) -> RealtimeConfig:
    request = RealtimeSessionCreateRequest.model_validate({"type": "realtime", **session})
    return apply_update(config or RealtimeConfig("realtime"), request, 1000)


def test_the_session_takes_g711_each_way_and_reports_it() -> None:
    config = update({"audio": {"input": {"format": {"type": "audio/pcmu"}}}})
    assert (config.input_format, config.output_format) == ("audio/pcmu", "audio/pcm")
    config = update({"audio": {"output": {"format": {"type": "audio/pcma"}}}}, config)
    assert (config.input_format, config.output_format) == ("audio/pcmu", "audio/pcma")
    reported = session_object(config, "sess_1", "", "alloy").model_dump(exclude_none=True)
    assert reported["audio"]["input"]["format"] == {"type": "audio/pcmu"}
    assert reported["audio"]["output"]["format"] == {"type": "audio/pcma"}
    config = update({"audio": {"input": {"format": {"type": "audio/pcm", "rate": 24000}}}}, config)
    assert config.input_format == "audio/pcm"  # and back again, mid-session
    # a response may ask for its own output format; else it takes the session's
    params = RealtimeResponseCreateParams.model_validate(
        {"audio": {"output": {"format": {"type": "audio/pcmu"}}}}
    )
    assert response_request(config, params).output_format == "audio/pcmu"
    assert response_request(config).output_format == "audio/pcma"


def test_an_unknown_format_is_refused_naming_the_field() -> None:
    message = json.dumps(
        {
            "type": "session.update",
            "session": {"type": "realtime", "audio": {"input": {"format": {"type": "audio/opus"}}}},
        }
    )
    with pytest.raises(BadEvent) as bad:
        parse_event(message, "ga")
    assert isinstance(bad.value.error, InvalidRequest)
    assert bad.value.error.param == "session.audio.input.format.type"
    assert "'audio/pcm' or 'audio/pcmu' or 'audio/pcma'" in bad.value.error.message


def test_the_beta_names_of_g711() -> None:
    message = {
        "type": "session.update",
        "session": {"input_audio_format": "g711_ulaw", "output_audio_format": "g711_alaw"},
    }
    parsed = parse_event(json.dumps(message), "beta")
    session = parsed.model_dump(exclude_unset=True)["session"]
    assert session["audio"]["input"]["format"] == {"type": "audio/pcmu"}
    assert session["audio"]["output"]["format"] == {"type": "audio/pcma"}
    beta_session = RealtimeConfig("realtime", model="gpt-4o-realtime-preview")
    config = apply_update(beta_session, parsed.session, 1000)  # type: ignore[union-attr]
    from openai.types.realtime import SessionUpdatedEvent

    updated = event(SessionUpdatedEvent, session=session_object(config, "s", "", "alloy"))
    beta = server_from_ga(updated)
    assert beta is not None
    reported = beta.model_dump()["session"]
    assert (reported["input_audio_format"], reported["output_audio_format"]) == (
        "g711_ulaw",
        "g711_alaw",
    )
