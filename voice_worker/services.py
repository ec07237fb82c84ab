"""The worker's services container: built once per process in the app's lifespan,
reached from routes through `request.app.state.services` (see `deps.services`).

Adding a feature (chat, sessions, ...): write an `async def build_x(services) -> None`
that creates what it needs, stores it with `services.add("x", obj, close=obj.aclose)`,
and append it to `EXTENSIONS` in voice_worker/app.py; routes read it back with
`services.get("x", XType)`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from shared.cache.base import ByteCache
from shared.cache.fallback import FallbackCache
from shared.cache.memory import MemoryCache
from shared.cache.redis_cache import RedisCache
from voice_worker.settings import CacheSettings, Settings
from voice_worker.speech.serving import SpeechService
from voice_worker.stt.base import STTProvider
from voice_worker.stt.registry import build_stt
from voice_worker.transcription.serving import TranscriptionService
from voice_worker.tts.base import TTSProvider
from voice_worker.tts.registry import build_tts

log = logging.getLogger(__name__)
T = TypeVar("T")
Closer = Callable[[], Awaitable[None]]


def build_cache(settings: CacheSettings) -> ByteCache:
    memory = MemoryCache(settings.max_entries, settings.max_bytes)
    if settings.backend == "memory":
        return memory
    redis = RedisCache(
        settings.redis_url.get_secret_value(),
        settings.key_prefix,
        settings.socket_timeout_seconds,
        settings.socket_timeout_seconds,
    )
    return FallbackCache(redis, memory, settings.retry_min_seconds, settings.retry_max_seconds)


@dataclass
class Services:
    settings: Settings
    stt: STTProvider
    tts: TTSProvider
    cache: ByteCache
    speech: SpeechService
    transcription: TranscriptionService
    extensions: dict[str, Any] = field(default_factory=dict)
    closers: list[Closer] = field(default_factory=list)

    @classmethod
    async def build(cls, settings: Settings) -> Services:
        # the local model loads in a thread: seconds of CPU, not of a blocked loop
        stt = await asyncio.to_thread(build_stt, settings.stt)
        tts = build_tts(settings.tts)
        cache = build_cache(settings.cache)
        speech = SpeechService(
            tts,
            cache,
            settings.cache.ttl_seconds,
            settings.tts.max_input_chars,
            settings.tts.voice_map,
        )
        transcription = TranscriptionService(
            stt,
            settings.stt.max_bytes,
            settings.stt.max_seconds,
            settings.stt.min_seconds,
            settings.stt.max_pending,
        )
        services = cls(settings, stt, tts, cache, speech, transcription)
        for part in (speech.flights, stt, tts, cache):
            close = getattr(part, "close", None)
            if close is not None:
                services.closers.append(close)
        return services

    def add(self, name: str, value: Any, close: Closer | None = None) -> None:
        self.extensions[name] = value
        if close is not None:
            self.closers.append(close)

    def get(self, name: str, kind: type[T]) -> T:
        value = self.extensions[name]
        if not isinstance(value, kind):
            raise TypeError(f"service {name!r} is {type(value).__name__}, not {kind.__name__}")
        return value

    async def aclose(self) -> None:
        for close in self.closers:
            try:
                await close()
            except Exception:
                log.exception("closing a service failed")
