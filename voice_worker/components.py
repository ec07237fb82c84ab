"""The worker's composition root: `build_components(settings, stack)` builds every
long-lived part from the settings, in dependency order, registering each one's cleanup
on the `AsyncExitStack` (released in reverse order at shutdown), and returns them as
one typed `Components`. Transport-free: the HTTP app (voice_worker/app.py) puts the
parts its routers need on `app.state`; another transport can build the same parts.
`build_speech_components` builds only the speech half (speech-to-text, text-to-speech,
the audio cache, the catalogue), for a transport without chat or sessions (Wyoming);
`build_components` starts from it.

Optional capabilities (closing, warming up, readiness, a catalogue) are checked here
and in the parts that use them, once, with isinstance against small Protocols."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextlib import AsyncExitStack
from dataclasses import dataclass

from shared.cache.base import ByteCache
from shared.cache.fallback import FallbackCache
from shared.cache.memory import MemoryCache
from shared.cache.redis_cache import RedisCache
from voice_worker.catalog.catalog import Catalog
from voice_worker.catalog.choices import load_choices
from voice_worker.catalog.model_mirror import ModelMirror
from voice_worker.chat.base import ChatProvider
from voice_worker.chat.cache import ResponseCache
from voice_worker.chat.registry import build_chat_provider
from voice_worker.conversation.adapters import CheckedSTT, TurnSpeech
from voice_worker.conversation.engine import VoiceChatEngine
from voice_worker.conversation.idempotency import IdempotencyKeys
from voice_worker.conversation.sessions import SessionManager
from voice_worker.health.probe import HealthProbe
from voice_worker.lifecycle import Closeable, SupportsWarmUp
from voice_worker.ratelimit.limiter import RateLimiter
from voice_worker.settings import CacheSettings, Settings
from voice_worker.speech.cached_speech import CachedSpeech
from voice_worker.store.base import ChatStore
from voice_worker.store.sql import open_store
from voice_worker.stt.base import STTProvider
from voice_worker.stt.registry import build_stt
from voice_worker.tools.toolbox import ToolBox
from voice_worker.transcription.transcriber import Transcriber
from voice_worker.tts.base import SupportsModels, TTSProvider
from voice_worker.tts.registry import build_tts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SpeechComponents:
    settings: Settings
    stt: STTProvider
    tts: TTSProvider
    cache: ByteCache
    speech: CachedSpeech
    transcriber: Transcriber
    catalog: Catalog


@dataclass(frozen=True)
class Components:
    settings: Settings
    stt: STTProvider
    tts: TTSProvider
    chat: ChatProvider
    store: ChatStore
    cache: ByteCache
    speech: CachedSpeech
    transcriber: Transcriber
    conversation: VoiceChatEngine
    sessions: SessionManager
    catalog: Catalog
    health: HealthProbe
    rate_limiter: RateLimiter | None = None  # None: limits off (VOICE_RATE_LIMIT__ENABLED)


def build_cache(
    settings: CacheSettings, max_entries: int | None = None, metric: str = "audio"
) -> ByteCache:
    """The cache stack of `settings`; `metric`: its name in the cache metrics."""
    memory = MemoryCache(
        max_entries or settings.max_entries,
        0 if max_entries else settings.max_bytes,
        metric if settings.backend == "memory" else "",
    )
    if settings.backend == "memory":
        return memory
    redis = RedisCache(
        settings.redis_url.get_secret_value(),
        settings.key_prefix,
        settings.socket_timeout_seconds,
        settings.socket_timeout_seconds,
    )
    return FallbackCache(
        redis, memory, settings.retry_min_seconds, settings.retry_max_seconds, metric
    )


def _closes(stack: AsyncExitStack, part: object) -> None:
    if isinstance(part, Closeable):
        stack.push_async_callback(part.close)


async def build_speech_components(settings: Settings, stack: AsyncExitStack) -> SpeechComponents:
    # the local model loads in a thread: seconds of CPU, not of a blocked loop
    stt = await asyncio.to_thread(build_stt, settings.stt)
    _closes(stack, stt)
    tts = build_tts(settings.tts, settings.grpc.channel_security())
    _closes(stack, tts)
    cache = build_cache(settings.cache)
    _closes(stack, cache)
    speech = CachedSpeech(
        tts,
        cache,
        settings.cache.ttl_seconds,
        settings.tts.max_input_chars,
        settings.tts.voice_map,
        settings.audio.bit_rates(),
    )
    stack.push_async_callback(speech.close)
    transcriber = Transcriber(
        stt,
        settings.stt.max_bytes,
        settings.stt.max_seconds,
        settings.stt.min_seconds,
        settings.stt.max_pending,
    )
    catalog = Catalog(tts, settings.tts.voice_map)
    await _keep_choices(stack, speech, catalog, settings.tts.voice_map)
    return SpeechComponents(
        settings=settings,
        stt=stt,
        tts=tts,
        cache=cache,
        speech=speech,
        transcriber=transcriber,
        catalog=catalog,
    )


async def build_components(settings: Settings, stack: AsyncExitStack) -> Components:
    parts = await build_speech_components(settings, stack)
    stt, tts, cache, speech, transcriber = (
        parts.stt, parts.tts, parts.cache, parts.speech, parts.transcriber
    )  # fmt: skip
    db = settings.database
    store = await open_store(db.resolved_url(settings.data_dir), db.pool_size, db.echo)
    stack.push_async_callback(store.close)
    chat = build_chat_provider(settings.chat)
    _closes(stack, chat)
    if isinstance(chat, SupportsWarmUp):
        await chat.warm_up()
    response_cache = None
    if settings.response_cache.enabled:
        backend = build_cache(settings.cache, settings.response_cache.max_entries, "chat_reply")
        _closes(stack, backend)
        response_cache = ResponseCache(backend, settings.response_cache.ttl_seconds)
    keys = IdempotencyKeys(
        store,
        settings.response_cache.ttl_seconds,
        settings.idempotency.lease_seconds,
        # a retry waits for the request running its key, as long as a turn may take
        wait_seconds=settings.chat.timeout_seconds + settings.tts.timeout_seconds,
    )
    tools = ToolBox.from_settings(settings.tools) if settings.tools.mcp_servers else None
    conversation = VoiceChatEngine(
        store,
        chat,
        TurnSpeech(speech),
        settings.chat,
        stt=CheckedSTT(transcriber),
        response_cache=response_cache,
        keys=keys,
        tools=tools,
    )
    if isinstance(tts, SupportsModels):
        await _mirror_models(stack, store, tts, db.tts_models_sync_seconds)
    rate_limiter = build_rate_limiter(settings)
    if rate_limiter is not None:
        stack.push_async_callback(rate_limiter.close)
    log.info("voice chat ready", extra={"chat": chat.name, "store": store.dialect})
    return Components(
        settings=settings,
        stt=stt,
        tts=tts,
        chat=chat,
        store=store,
        cache=cache,
        speech=speech,
        transcriber=transcriber,
        conversation=conversation,
        sessions=SessionManager(store, settings.chat, keys, speech),
        catalog=parts.catalog,
        health=HealthProbe(
            tts, stt, store, cache, speech, transcriber, rate_limiter, parts.catalog
        ),
        rate_limiter=rate_limiter,
    )


CHOICES_REFRESH_SECONDS = 30.0
#: until the catalogue has been read once (the worker started before its model servers)
CHOICES_RETRY_SECONDS = 1.0


async def _keep_choices(
    stack: AsyncExitStack, speech: CachedSpeech, catalog: Catalog, voice_map: dict[str, str]
) -> None:
    """The names the provider offers (catalog.choices), now and every 30 s after (every
    second until the first read: /readyz says not ready until then)."""
    if not catalog.complete:
        return
    speech.choices = await load_choices(catalog, voice_map)

    async def refresh() -> None:
        while True:
            pause = CHOICES_REFRESH_SECONDS if speech.choices else CHOICES_RETRY_SECONDS
            await asyncio.sleep(pause)
            speech.choices = await load_choices(catalog, voice_map) or speech.choices

    task = asyncio.create_task(refresh())

    async def cancel() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    stack.push_async_callback(cancel)


def build_rate_limiter(settings: Settings) -> RateLimiter | None:
    """The shared rate limits, or None when they are off."""
    limits = settings.rate_limit
    if not limits.active(settings.auth.mode):
        return None
    url = limits.redis_url.get_secret_value() or settings.cache.redis_url.get_secret_value()
    return RateLimiter(limits, url)


async def _mirror_models(
    stack: AsyncExitStack, store: ChatStore, source: SupportsModels, interval: float
) -> None:
    """The store's copy of the provider's models: now, then every `interval` seconds."""
    mirror = ModelMirror(store, source, interval)
    await mirror.try_sync()
    if interval > 0:
        task = asyncio.create_task(mirror.run())

        async def cancel() -> None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        stack.push_async_callback(cancel)
