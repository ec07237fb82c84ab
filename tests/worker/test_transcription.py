"""`POST /v1/audio/transcriptions` (openai SDK) and the design's `/api/voice/*`, with
the local faster-whisper model."""

from __future__ import annotations

import httpx
import openai
import pytest

from harness.processes import DATA, JFK_TRANSCRIPT, word_error_rate

JFK = (DATA / "jfk.flac").read_bytes()
ROUND_TRIP = "The weather is lovely today, so we will walk to the park after lunch."


def test_jfk_json(client: openai.OpenAI) -> None:
    result = client.audio.transcriptions.create(model="whisper-1", file=("jfk.flac", JFK))
    assert word_error_rate(JFK_TRANSCRIPT, result.text) <= 0.15, result.text


def test_jfk_verbose_json_with_words_and_segments(client: openai.OpenAI) -> None:
    result = client.audio.transcriptions.create(
        model="whisper-1",
        file=("jfk.flac", JFK),
        response_format="verbose_json",
        timestamp_granularities=["word", "segment"],
    )
    assert result.duration == pytest.approx(11.0, abs=0.05)
    assert result.language == "english"
    assert result.segments and result.words
    assert result.segments[0].start < result.segments[-1].end <= 11.0
    starts = [w.start for w in result.words]
    assert starts == sorted(starts)
    assert result.words[-1].end <= 11.0
    assert word_error_rate(JFK_TRANSCRIPT, " ".join(w.word for w in result.words)) <= 0.15


@pytest.mark.parametrize("fmt", ["text", "srt", "vtt"])
def test_text_formats(client: openai.OpenAI, fmt: str) -> None:
    result = client.audio.transcriptions.create(
        model="whisper-1",
        file=("jfk.flac", JFK),
        response_format=fmt,  # type: ignore[call-overload]
    )
    assert isinstance(result, str)
    assert "fellow americans" in result.lower()
    if fmt == "srt":
        assert result.startswith("1\n00:00:00,000 --> 00:00:")
    if fmt == "vtt":
        assert result.startswith("WEBVTT\n\n00:00:00.000 --> ")


def test_round_trip_through_the_piper_voice(client: openai.OpenAI) -> None:
    audio = client.audio.speech.create(
        model="tts-1", voice="alloy", input=ROUND_TRIP, response_format="mp3"
    ).content
    result = client.audio.transcriptions.create(model="whisper-1", file=("speech.mp3", audio))
    assert word_error_rate(ROUND_TRIP, result.text) <= 0.1, result.text


def test_design_routes(worker_url: str) -> None:
    tts = httpx.post(
        f"{worker_url}/api/voice/tts",
        json={"text": ROUND_TRIP, "format": "opus", "sample_rate": 16000},
        timeout=60,
    )
    assert tts.status_code == 200
    assert tts.headers["content-type"] == "audio/ogg"
    stt = httpx.post(
        f"{worker_url}/api/voice/stt",
        files={"file": ("speech.ogg", tts.content, "audio/ogg")},
        data={"words": "true"},
        timeout=60,
    )
    assert stt.status_code == 200, stt.text
    body = stt.json()
    assert body["provider"] == "local"
    assert word_error_rate(ROUND_TRIP, body["text"]) <= 0.1
    assert body["words"] and body["segments"]


def test_granularities_need_verbose_json(worker_url: str) -> None:
    response = httpx.post(
        f"{worker_url}/v1/audio/transcriptions",
        files={"file": ("jfk.flac", JFK)},
        data={"model": "whisper-1", "timestamp_granularities[]": "word"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "timestamp_granularities[]"
