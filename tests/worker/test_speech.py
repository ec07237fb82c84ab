"""`POST /v1/audio/speech` through the official openai SDK (and raw HTTP for headers)."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid

import httpx
import openai
import pytest

from harness.processes import decode

SENTENCE = "The quick brown fox jumps over the lazy dog. It was a sunny day."


def unique(text: str = SENTENCE) -> str:
    return f"{text} Number {uuid.uuid4().int % 10_000}."


@pytest.fixture(scope="module")
def reference(client: openai.OpenAI) -> float:
    """Duration of SENTENCE as WAV: every other format must match it."""
    audio = client.audio.speech.create(
        model="tts-1", voice="alloy", input=SENTENCE, response_format="wav"
    ).content
    rate, duration, channels = decode(audio)
    assert (rate, channels) == (22050, 1)
    assert 2.0 < duration < 10.0
    return duration


@pytest.mark.parametrize(
    ("fmt", "rate"),
    [("mp3", 22050), ("opus", 48000), ("aac", 24000), ("flac", 22050), ("wav", 22050)],
)
def test_every_format_decodes_with_the_expected_duration(
    client: openai.OpenAI, reference: float, fmt: str, rate: int
) -> None:
    audio = client.audio.speech.create(
        model="tts-1",
        voice="alloy",
        input=SENTENCE,
        response_format=fmt,  # type: ignore[arg-type]
    ).content
    got_rate, duration, channels = decode(audio)
    assert channels == 1
    assert got_rate == rate
    # Piper samples its phoneme durations (noise_w), so every synthesis of the same text
    # differs by a few percent; AAC in ADTS adds up to two frames (85 ms) of priming.
    assert duration == pytest.approx(reference, rel=0.1, abs=0.1 if fmt == "aac" else 0.02)


def test_pcm_is_24khz_s16le_mono(client: openai.OpenAI, reference: float) -> None:
    audio = client.audio.speech.create(
        model="tts-1", voice="alloy", input=SENTENCE, response_format="pcm"
    ).content
    assert len(audio) % 2 == 0
    assert len(audio) / 2 / 24000 == pytest.approx(reference, rel=0.1)


def test_streamed_reply_is_one_valid_file(client: openai.OpenAI, worker_url: str) -> None:
    text = unique()
    with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="nova", input=text, response_format="wav"
    ) as response:
        assert response.headers["x-cache"] == "miss"
        assert "content-length" not in response.headers  # chunked
        audio = b"".join(response.iter_bytes())
    _, streamed, _ = decode(audio)
    again = httpx.post(
        f"{worker_url}/v1/audio/speech",
        json={"model": "tts-1", "voice": "nova", "input": text, "response_format": "wav"},
    )
    assert again.headers["x-cache"] == "hit"
    assert again.headers["content-length"] == str(len(again.content))
    assert decode(again.content)[1] == pytest.approx(streamed, abs=0.01)


def test_sse_events(worker_url: str) -> None:
    body = {"model": "tts-1", "voice": "alloy", "input": unique(), "response_format": "mp3"}
    response = httpx.post(
        f"{worker_url}/v1/audio/speech", json={**body, "stream_format": "sse"}, timeout=60
    )
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [
        json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: ")
    ]
    assert [e["type"] for e in events[:-1]] == ["speech.audio.delta"] * (len(events) - 1)
    assert events[-1]["type"] == "speech.audio.done"
    assert events[-1]["usage"]["total_tokens"] > 0
    audio = b"".join(base64.b64decode(e["audio"]) for e in events[:-1])
    assert decode(audio)[1] > 1.0


def test_errors_have_openai_shape(client: openai.OpenAI, worker_url: str) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.audio.speech.create(model="tts-1", voice="alloy", input="x" * 5000)
    assert info.value.body["code"] == "string_above_max_length"  # type: ignore[index]
    cases: list[tuple[dict[str, object], str]] = [
        ({"input": ""}, "input"),
        ({"input": "hi", "response_format": "ogg"}, "response_format"),
        ({"input": "hi", "speed": 9}, "speed"),
        ({"input": "hi", "voice": "no-such-voice"}, "voice"),
        ({"input": "hi", "model": "no-such-model"}, "model"),
    ]
    for body, param in cases:
        response = httpx.post(f"{worker_url}/v1/audio/speech", json={"model": "tts-1", **body})
        assert response.status_code == 400, body
        error = response.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}
        assert error["param"] == param, error
        assert error["message"]


def test_openai_voice_names_map_to_the_default_voice(worker_url: str) -> None:
    sizes = set()
    for voice in ("alloy", "shimmer", "cedar"):
        response = httpx.post(
            f"{worker_url}/v1/audio/speech",
            json={
                "model": "tts-1",
                "voice": voice,
                "input": "Same voice.",
                "response_format": "wav",
            },
        )
        assert response.status_code == 200
        sizes.add(len(response.content))
    assert len(sizes) == 1  # all three are the Piper voice


def test_request_id_is_echoed(worker_url: str) -> None:
    response = httpx.get(f"{worker_url}/healthz", headers={"x-request-id": "abc123"})
    assert response.headers["x-request-id"] == "abc123"
    assert len(httpx.get(f"{worker_url}/healthz").headers["x-request-id"]) >= 8


async def test_concurrent_identical_misses_synthesize_once(worker_url: str) -> None:
    body = {"model": "tts-1", "voice": "alloy", "input": unique(), "response_format": "mp3"}
    async with httpx.AsyncClient(base_url=worker_url, timeout=60) as http:
        before = (await http.get("/debug/counters")).json()["speech"]["syntheses"]
        replies = await asyncio.gather(
            *(http.post("/v1/audio/speech", json=body) for _ in range(8))
        )
        after = (await http.get("/debug/counters")).json()["speech"]["syntheses"]
    assert {r.status_code for r in replies} == {200}
    assert len({r.content for r in replies}) == 1
    assert after - before == 1
