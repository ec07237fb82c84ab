"""`ModelMirror`: the store's `tts_models` table kept in step with the speech
provider's models (a provider that `SupportsModels`): one listing, the table replaced
in one transaction (models gone from the provider go from the table); at start-up,
then every `interval` seconds while the worker runs. The store only stores."""

from __future__ import annotations

import asyncio
import logging

from voice_worker.errors import VoiceError
from voice_worker.store.base import ChatStore, TTSModelRecord
from voice_worker.tts.base import SupportsModels

log = logging.getLogger(__name__)


class ModelMirror:
    def __init__(self, store: ChatStore, source: SupportsModels, interval: float) -> None:
        self.store = store
        self.source = source
        self.interval = interval

    async def sync(self) -> int:
        """Mirror the provider's models now; the number of models."""
        models = await self.source.models()
        records = [
            TTSModelRecord(m.name, m.backend, m.sample_rate, m.is_default, m.state) for m in models
        ]
        await self.store.replace_tts_models(records)
        return len(records)

    async def try_sync(self) -> None:
        """One sync; a provider that is down is logged, not raised."""
        try:
            count = await self.sync()
            log.debug("tts models synced", extra={"models": count})
        except VoiceError as exc:
            log.warning("tts models not synced", extra={"error": exc.message})

    async def run(self) -> None:
        """Sync every `interval` seconds until cancelled."""
        while True:
            await asyncio.sleep(self.interval)
            await self.try_sync()
