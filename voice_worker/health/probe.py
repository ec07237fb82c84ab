"""`HealthProbe`: is this worker ready (the speech provider says so, when it can tell;
its catalogue, when it has one, has been read, so that names are checked and the API
document lists them; the session store answers a query), and its counters. The
provider's readiness is an optional capability (`SupportsReadiness`), checked once
here."""

from __future__ import annotations

import asyncio

from shared.cache.base import ByteCache
from voice_worker.catalog.catalog import Catalog
from voice_worker.errors import StoreUnavailable
from voice_worker.lifecycle import Readiness, SupportsReadiness
from voice_worker.ratelimit.limiter import RateLimiter
from voice_worker.speech.cached_speech import CachedSpeech
from voice_worker.store.base import ChatStore
from voice_worker.stt.base import STTProvider
from voice_worker.transcription.transcriber import Transcriber
from voice_worker.tts.base import TTSProvider

STORE_PING_SECONDS = 2.0


async def store_readiness(store: ChatStore) -> Readiness:
    """Whether the session store answers; the reason (its type and first line, never
    the URL, which may hold a password) when it does not."""
    try:
        await asyncio.wait_for(store.ping(), STORE_PING_SECONDS)
    except Exception as exc:
        if isinstance(exc, StoreUnavailable) and exc.__cause__ is not None:
            exc = exc.__cause__  # type: ignore[assignment]  # the database's own error
        reason = (str(exc).splitlines() or [""])[0][:200]
        return Readiness(False, f"{type(exc).__name__}: {reason}")
    return Readiness(True, "ok")


class HealthProbe:
    def __init__(
        self,
        tts: TTSProvider,
        stt: STTProvider,
        store: ChatStore,
        cache: ByteCache,
        speech: CachedSpeech,
        transcriber: Transcriber,
        rate_limiter: RateLimiter | None = None,
        catalog: Catalog | None = None,
    ) -> None:
        self.tts, self.stt, self.store, self.cache = tts, stt, store, cache
        self.speech, self.transcriber = speech, transcriber
        self.rate_limiter = rate_limiter
        self.catalog = catalog
        self._tts_readiness = tts if isinstance(tts, SupportsReadiness) else None

    def counters(self) -> dict[str, object]:
        found: dict[str, object] = {
            "speech": self.speech.state(),
            "transcription": self.transcriber.state(),
            "cache": self.cache.state(),
        }
        if self.rate_limiter is not None:
            found["rate_limit"] = self.rate_limiter.state()
        return found

    async def readiness(self) -> tuple[bool, dict[str, object]]:
        """(ready, the body /readyz answers with)."""
        tts = (
            await self._tts_readiness.readiness()
            if self._tts_readiness is not None
            else Readiness(True, "no check")
        )
        unread = self.catalog is not None and self.catalog.complete and not self.speech.choices
        if tts.ready and unread:  # read again every second until it is
            tts = Readiness(False, "the speech catalogue has not been read yet")
        store = await store_readiness(self.store)
        ready = tts.ready and store.ready
        return ready, {
            "status": "ready" if ready else "not ready",
            "tts": {"provider": self.tts.name, "ready": tts.ready, "detail": tts.detail},
            "stt": {"provider": self.stt.name},
            **self.counters(),
            "store": {"ready": True} if store.ready else {"ready": False, "detail": store.detail},
        }
