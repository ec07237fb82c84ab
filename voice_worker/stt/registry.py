"""Speech-to-text providers by name (`VOICE_STT__PROVIDER`). Imports are lazy, so a
worker pulls in only the SDK it uses."""

from __future__ import annotations

from collections.abc import Callable

from voice_worker.stt.base import STTProvider
from voice_worker.stt.settings import STTSettings


def _local(s: STTSettings) -> STTProvider:
    from voice_worker.stt.local import LocalWhisperSTT

    c = s.local
    return LocalWhisperSTT(
        c.model_path, c.device, c.compute_type, c.cpu_threads, c.workers, c.beam_size, c.model
    )


def _openai(s: STTSettings) -> STTProvider:
    from voice_worker.stt.openai_whisper import OpenAIWhisperSTT

    return OpenAIWhisperSTT(
        s.openai.api_key.get_secret_value(),
        s.openai.base_url,
        s.openai.model,
        s.timeout_seconds,
        s.max_retries,
    )


def _deepgram(s: STTSettings) -> STTProvider:
    from voice_worker.stt.deepgram_stt import DeepgramSTT

    return DeepgramSTT(
        s.deepgram.api_key.get_secret_value(),
        s.deepgram.base_url,
        s.deepgram.model,
        s.deepgram.language,
        s.timeout_seconds,
        s.max_retries,
    )


def _mock(s: STTSettings) -> STTProvider:
    from voice_worker.stt.mock import MockSTT

    return MockSTT(s.mock_transcript)


PROVIDERS: dict[str, Callable[[STTSettings], STTProvider]] = {
    "local": _local,
    "openai": _openai,
    "deepgram": _deepgram,
    "mock": _mock,
}


def build_stt(settings: STTSettings) -> STTProvider:
    try:
        factory = PROVIDERS[settings.provider]
    except KeyError:
        raise ValueError(
            f"unknown speech-to-text provider {settings.provider!r}; valid: {', '.join(PROVIDERS)}"
        ) from None
    return factory(settings)
