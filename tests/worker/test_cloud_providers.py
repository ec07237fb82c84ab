"""Each cloud provider against its strict local fake (real HTTP on 127.0.0.1), through
a real worker: success, 401, 429 (with Retry-After), 5xx and a timeout, each mapped to
a clear error of ours that names the upstream."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from harness.processes import DATA, decode
from harness.servers import ThreadServer
from tests.worker.fakes import deepgram_fake, elevenlabs_fake, openai_fake
from tests.worker.fakes.common import Behavior
from voice_worker.app import create_app
from voice_worker.settings import Settings

JFK = (DATA / "jfk.flac").read_bytes()
TIMEOUT = 1.0
ELEVENLABS_VOICES = {"alloy": "EXAVITQu4vr4xnSDxMaL", "narrator": "pNInz6obpgDQGcFmaJgB"}


@dataclass
class Cloud:
    behaviors: dict[str, Behavior]
    workers: dict[str, str]  # provider -> worker URL


@pytest.fixture(scope="module")
def cloud() -> Iterator[Cloud]:
    behaviors = {
        name: Behavior(delay_seconds=TIMEOUT + 1.5) for name in ("openai", "deepgram", "elevenlabs")
    }
    with (
        ThreadServer(openai_fake.create_app(behaviors["openai"])) as openai_server,
        ThreadServer(deepgram_fake.create_app(behaviors["deepgram"])) as deepgram_server,
        ThreadServer(elevenlabs_fake.create_app(behaviors["elevenlabs"])) as eleven_server,
    ):
        common = {"timeout_seconds": TIMEOUT, "max_retries": 0}
        openai_worker = Settings(
            stt={
                "provider": "openai",
                **common,
                "openai": {"api_key": "test-key", "base_url": f"{openai_server.url}/v1"},
            },
            tts={
                "provider": "openai",
                **common,
                "openai": {"api_key": "test-key", "base_url": f"{openai_server.url}/v1"},
            },
            access_log=False,
        )
        other_worker = Settings(
            stt={
                "provider": "deepgram",
                **common,
                "deepgram": {"api_key": "test-key", "base_url": deepgram_server.url},
            },
            tts={
                "provider": "elevenlabs",
                **common,
                "elevenlabs": {
                    "api_key": "test-key",
                    "base_url": eleven_server.url,
                    "voices": ELEVENLABS_VOICES,
                },
            },
            access_log=False,
        )
        with (
            ThreadServer(create_app(openai_worker)) as first,
            ThreadServer(create_app(other_worker)) as second,
        ):
            yield Cloud(
                behaviors,
                {
                    "openai-stt": first.url,
                    "openai-tts": first.url,
                    "deepgram": second.url,
                    "elevenlabs": second.url,
                },
            )


UPSTREAM = {
    "openai-stt": "openai",
    "openai-tts": "openai",
    "deepgram": "deepgram",
    "elevenlabs": "elevenlabs",
}
NAMES = {"openai": "OpenAI", "deepgram": "Deepgram", "elevenlabs": "ElevenLabs"}
TTS = {"openai-tts", "elevenlabs"}


def call(cloud: Cloud, provider: str, fmt: str = "mp3") -> httpx.Response:
    url = cloud.workers[provider]
    if provider in TTS:
        body = {
            "model": "tts-1",
            "voice": "alloy",
            "input": f"Hello {uuid.uuid4().hex}.",
            "response_format": fmt,
        }
        return httpx.post(f"{url}/v1/audio/speech", json=body, timeout=30)
    return httpx.post(
        f"{url}/v1/audio/transcriptions",
        files={"file": ("jfk.flac", JFK, "audio/flac")},
        data={
            "model": "whisper-1",
            "response_format": "verbose_json",
            "timestamp_granularities[]": ["word", "segment"],
        },
        timeout=30,
    )


@pytest.fixture
def behavior(cloud: Cloud, request: pytest.FixtureRequest) -> Iterator[Behavior]:
    b = cloud.behaviors[UPSTREAM[request.param]]
    b.mode, b.api_key = "ok", "test-key"
    b.calls.clear()
    yield b
    b.mode = "ok"


PROVIDERS = list(UPSTREAM)


@pytest.mark.parametrize(
    ("provider", "behavior"), [(p, p) for p in PROVIDERS], indirect=["behavior"]
)
def test_success(cloud: Cloud, provider: str, behavior: Behavior) -> None:
    response = call(cloud, provider)
    assert response.status_code == 200, response.text
    if provider in TTS:
        assert decode(response.content)[1] == pytest.approx(1.0, abs=0.1)
    else:
        body = response.json()
        assert body["text"] == behavior.transcript
        assert body["words"] and body["segments"]
    assert len(behavior.calls) == 1


@pytest.mark.parametrize(
    ("provider", "behavior"),
    [("openai-tts", "openai-tts"), ("elevenlabs", "elevenlabs")],
    indirect=["behavior"],
)
@pytest.mark.parametrize("fmt", ["wav", "flac", "aac", "opus", "pcm"])
def test_speech_formats(cloud: Cloud, provider: str, behavior: Behavior, fmt: str) -> None:
    response = call(cloud, provider, fmt)
    assert response.status_code == 200, response.text
    if fmt == "pcm":
        assert len(response.content) == 2 * 24000
    else:
        assert decode(response.content)[1] == pytest.approx(1.0, abs=0.12)


@pytest.mark.parametrize(
    ("mode", "status", "code"),
    [
        ("401", 502, "upstream_auth_failed"),
        ("429", 503, "upstream_rate_limited"),
        ("500", 502, "upstream_error"),
        ("503", 503, "upstream_unavailable"),
        ("timeout", 504, "upstream_timeout"),
    ],
)
@pytest.mark.parametrize(
    ("provider", "behavior"), [(p, p) for p in PROVIDERS], indirect=["behavior"]
)
def test_failures_map_to_our_errors(
    cloud: Cloud, provider: str, behavior: Behavior, mode: str, status: int, code: str
) -> None:
    if mode == "401":
        behavior.api_key = "another-key"  # the worker's key is now wrong
    else:
        behavior.mode = mode
    response = call(cloud, provider)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["type"] == "upstream_error"
    assert error["message"].startswith(NAMES[UPSTREAM[provider]] + ": ")
    if mode in ("429", "503"):
        assert int(response.headers["retry-after"]) >= 1
    assert len(behavior.calls) == 1  # retries are off in these workers


def test_elevenlabs_voices_are_the_configured_names(cloud: Cloud) -> None:
    """A provider's catalogue is an optional capability (SupportsVoices): ElevenLabs
    lists the names configured in VOICE_TTS__ELEVENLABS__VOICES, then its default."""
    response = httpx.get(f"{cloud.workers['elevenlabs']}/v1/audio/voices", timeout=10)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["provider"] == "elevenlabs"
    voices = {v["name"]: v["voice_id"] for v in body["data"]}
    assert voices == {**ELEVENLABS_VOICES, "default": "21m00Tcm4TlvDq8ikWAM"}
    models = httpx.get(f"{cloud.workers['elevenlabs']}/v1/models", timeout=10).json()
    assert {m["id"] for m in models["data"]} >= {"whisper-1", "tts-1"}  # no catalogue: ours
