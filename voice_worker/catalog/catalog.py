"""`Catalog`: what the speech provider offers (voices, models), through its optional
capabilities (`SupportsVoices`, `SupportsModels`), checked once here."""

from __future__ import annotations

from collections.abc import Mapping

from voice_worker.tts.base import (
    ModelDescription,
    SupportsModels,
    SupportsVoices,
    TakesOpenAINames,
    TTSProvider,
    VoiceDescription,
)


class Catalog:
    def __init__(self, tts: TTSProvider, voice_map: Mapping[str, str]) -> None:
        self.provider = tts.name
        self._voices = tts if isinstance(tts, SupportsVoices) else None
        self._models = tts if isinstance(tts, SupportsModels) else None
        #: it lists both its voices and its models: requests can be checked against them
        self.complete = self._voices is not None and self._models is not None
        # OpenAI's names reach a provider that takes them untouched; elsewhere they map
        self.voice_aliases = {} if isinstance(tts, TakesOpenAINames) else dict(voice_map)

    async def voices(self) -> list[VoiceDescription]:
        return await self._voices.voices() if self._voices is not None else []

    async def models(self) -> list[ModelDescription]:
        return await self._models.models() if self._models is not None else []
