"""Text-to-speech providers by name (`VOICE_TTS__PROVIDER`), imported lazily."""

from __future__ import annotations

from collections.abc import Callable

from voice_contract.channels import ChannelSecurity
from voice_worker.tts.base import TTSProvider
from voice_worker.tts.settings import TTSSettings


def _model_server(s: TTSSettings, security: ChannelSecurity) -> TTSProvider:
    if s.model_servers:
        from voice_worker.tts.fleet.provider import FleetTTS

        return FleetTTS.from_settings(s, security=security)
    from voice_worker.tts.model_server import ModelServerTTS

    return ModelServerTTS(s.model_server, s.timeout_seconds, s.max_retries, security)


def _openai(s: TTSSettings, security: ChannelSecurity) -> TTSProvider:
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


def _elevenlabs(s: TTSSettings, security: ChannelSecurity) -> TTSProvider:
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


PROVIDERS: dict[str, Callable[[TTSSettings, ChannelSecurity], TTSProvider]] = {
    "model_server": _model_server,
    "openai": _openai,
    "elevenlabs": _elevenlabs,
}


def build_tts(settings: TTSSettings, security: ChannelSecurity | None = None) -> TTSProvider:
    """The configured provider; `security`: how to reach the model servers (TLS, token)."""
    try:
        factory = PROVIDERS[settings.provider]
    except KeyError:
        raise ValueError(
            f"unknown text-to-speech provider {settings.provider!r}; valid: {', '.join(PROVIDERS)}"
        ) from None
    return factory(settings, security or ChannelSecurity())
