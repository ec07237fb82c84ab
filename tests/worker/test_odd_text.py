"""The odd-text corpus (tests/odd_text.py) over HTTP, through the session's worker and
model server: `/v1/audio/speech` and `/api/voice/tts` answer 200 with audio, or 400
naming the parameter and the reason; never a 5xx. A turn's typed text follows the same
rule for control characters (it is stored, and PostgreSQL refuses NUL)."""

from __future__ import annotations

import json

import httpx
import pytest

from harness.processes import decode
from shared.speakable import TextIssue
from tests.odd_text import CORPUS, NOT_ENCODABLE, OddText
from voice_worker.speech.cached_speech import TEXT_CODES


@pytest.mark.parametrize("case", CORPUS, ids=lambda case: case.name)
@pytest.mark.parametrize(
    ("route", "field", "extra"),
    [
        ("/v1/audio/speech", "input", {"model": "tts-1", "voice": "alloy"}),
        ("/api/voice/tts", "text", {"format": "wav"}),
    ],
    ids=["openai", "voice_api"],
)
def test_odd_text_is_spoken_or_refused_clearly(
    worker_url: str, case: OddText, route: str, field: str, extra: dict[str, str]
) -> None:
    body = {field: case.text, **extra}
    if route == "/v1/audio/speech":
        body["response_format"] = "wav"
    # json.dumps escapes a lone surrogate as \\ud800, as a JavaScript client would send it
    reply = httpx.post(
        f"{worker_url}{route}",
        content=json.dumps(body),
        headers={"content-type": "application/json"},
        timeout=120,
    )
    assert reply.status_code < 500, reply.text
    if case.refused is None:
        assert reply.status_code == 200, reply.text
        rate, seconds, _ = decode(reply.content)
        assert rate == 22050 and seconds > 0
        return
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert error["param"] == field
    if case.name in NOT_ENCODABLE:  # refused by the body's validation: not a valid string
        assert error["code"] == "invalid_value" and "unicode string" in error["message"]
        return
    assert error["code"] == TEXT_CODES[TextIssue(case.refused)]
    if case.refused == "control_character":
        assert "position" in error["message"]


def test_a_typed_turn_with_a_nul_is_a_400(worker_url: str) -> None:
    base = f"{worker_url}/api/voice/sessions"
    session = httpx.post(base, json={}, timeout=30).json()["id"]
    reply = httpx.post(f"{base}/{session}/text", json={"text": "Hi\x00there"}, timeout=30)
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"]["param"] == "text"
    title = httpx.post(base, json={"title": "bad\x00title"}, timeout=30)
    assert title.status_code == 400 and "control character" in title.text
    history = httpx.get(f"{base}/{session}/messages", timeout=30).json()
    assert history["items"] == []
