"""Voices, models, liveness and readiness."""

from __future__ import annotations

import httpx
import openai


def test_models_through_the_sdk(client: openai.OpenAI) -> None:
    ids = {model.id for model in client.models.list()}
    assert {"whisper-1", "tts-1", "piper-joe"} <= ids


def test_voices(worker_url: str) -> None:
    body = httpx.get(f"{worker_url}/v1/audio/voices").json()
    assert body["provider"] == "model_server"
    assert any(v["model"] == "piper-joe" for v in body["data"])
    assert "alloy" in body["openai_voices"]


def test_healthz_and_readyz(worker_url: str) -> None:
    assert httpx.get(f"{worker_url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{worker_url}/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["tts"]["ready"] is True
    assert body["store"] == {"ready": True}  # the default SQLite session store
    assert body["cache"]["backend"] == "memory"
    assert {"hits", "misses", "errors"} <= set(body["cache"])


def test_unknown_route_is_an_openai_error(worker_url: str) -> None:
    response = httpx.get(f"{worker_url}/v1/nope")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found_error"
