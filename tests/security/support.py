"""Workers with authentication on, and clients that authenticate."""

from __future__ import annotations

from harness.fake_venice import venice_env


def worker_env(venice_url: str, **extra: str) -> dict[str, str]:
    """A worker on the fake Venice with the mock STT (fast), no response cache."""
    return {
        "VOICE_STT__PROVIDER": "mock",
        **venice_env(venice_url),
        "VOICE_CHAT__MAX_RETRIES": "0",
        "VOICE_RESPONSE_CACHE__ENABLED": "false",
        "VOICE_DATABASE__TTS_MODELS_SYNC_SECONDS": "0",
        **extra,
    }


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
