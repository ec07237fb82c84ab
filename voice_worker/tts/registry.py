"""Text-to-speech providers by name (`VOICE_TTS__PROVIDER`), imported lazily."""

from __future__ import annotations

from collections.abc import Callable

from voice_worker.settings import TTSSettings
from voice_worker.tts.base import TTSProvider


def _model_server(s: TTSSettings) -> TTSProvider:
    if s.model_servers:
        from voice_worker.tts.fleet.provider import FleetTTS

        return FleetTTS.from_settings(s)
    from voice_worker.tts.model_server import ModelServerTTS

    return ModelServerTTS(s.model_server, s.timeout_seconds, s.max_retries)


def _openai(s: TTSSettings) -> TTSProvider:
    from voice_worker.tts.openai_tts import OpenAITTS

    c = s.openai
    return OpenAITTS(
        c.api_key.get_secret_value(),
        c.base_url,
        c.model,
        c.voice,
        s.timeout_seconds,
        s.max_retries,
    )


def _elevenlabs(s: TTSSettings) -> TTSProvider:
    from voice_worker.tts.elevenlabs import ElevenLabsTTS

    c = s.elevenlabs
    return ElevenLabsTTS(
        c.api_key.get_secret_value(),
        c.base_url,
        c.model,
        c.voice_id,
        c.voices,
        s.timeout_seconds,
        s.max_retries,
    )


PROVIDERS: dict[str, Callable[[TTSSettings], TTSProvider]] = {
    "model_server": _model_server,
    "openai": _openai,
    "elevenlabs": _elevenlabs,
}


def build_tts(settings: TTSSettings) -> TTSProvider:
    try:
        factory = PROVIDERS[settings.provider]
    except KeyError:
        raise ValueError(
            f"unknown text-to-speech provider {settings.provider!r}; valid: {', '.join(PROVIDERS)}"
        ) from None
    return factory(settings)
