"""Wiring into the worker: `build_conversation(services)` (in the app's EXTENSIONS)
opens the store, builds the chat provider, the response cache and the engine, and
registers them; `conversation(request)` / `sessions(request)` give them to routes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request

from shared.audio.decoding import AudioDecodeError, probe
from shared.audio.formats import AudioFormat
from voice_worker.chat.cache import ResponseCache
from voice_worker.chat.local import LocalChat
from voice_worker.chat.registry import build_chat_provider
from voice_worker.conversation.engine import VoiceChatEngine
from voice_worker.conversation.sessions import SessionService
from voice_worker.services import Services, build_cache
from voice_worker.speech.serving import SpeechService
from voice_worker.store.sql import open_store
from voice_worker.store.tts_models import keep_synced, try_sync
from voice_worker.stt.base import Transcript, TranscriptionOptions
from voice_worker.transcription.serving import TranscriptionService, Upload
from voice_worker.tts.base import Speech, SpeechOptions

log = logging.getLogger(__name__)


class CheckedSTT:
    """The worker's STT behind its upload checks (size, not audio, too long: 4xx)."""

    def __init__(self, service: TranscriptionService) -> None:
        self.service = service
        self.name = service.provider.name

    async def transcribe(self, audio: bytes, options: TranscriptionOptions) -> Transcript:
        return await self.service.transcribe(Upload(audio), options)


class CachedTTS:
    """The worker's TTS behind its audio cache: a reply spoken before (same text, voice,
    format, speed) costs a cache read, not a synthesis."""

    def __init__(self, speech: SpeechService) -> None:
        self.speech = speech
        self.name = speech.provider.name

    async def synthesize(self, text: str, options: SpeechOptions) -> Speech:
        o = options
        job = self.speech.prepare(
            text, o.format, o.voice, o.model, o.speed, o.sample_rate, o.instructions, o.language
        )
        audio = (await self.speech.speak(job, stream=False)).body or b""
        rate, duration = job.options.sample_rate, 0.0
        if o.format is AudioFormat.PCM:
            duration = len(audio) / 2 / (rate or 1)
        else:
            try:
                info = probe(audio)
                rate, duration = info.sample_rate, info.duration or 0.0
            except AudioDecodeError:
                log.warning("reply audio unreadable", extra={"bytes": len(audio)})
        return Speech(audio, o.format, rate, duration, o.model, o.voice)

    def stream(self, text: str, options: SpeechOptions) -> AsyncIterator[bytes]:
        return self.speech.provider.stream(text, options)


async def build_conversation(services: Services) -> None:
    settings = services.settings
    db = settings.database
    store = await open_store(db.resolved_url(settings.data_dir), db.pool_size, db.echo)
    services.add("store", store, close=store.close)
    chat = build_chat_provider(settings.chat)
    services.add("chat", chat, close=chat.aclose)
    if isinstance(chat, LocalChat):
        await asyncio.to_thread(chat.load)  # 0.3 s now rather than on the first turn
    cache = None
    if settings.response_cache.enabled:
        group = settings.cache.model_copy(
            update={"max_entries": settings.response_cache.max_entries, "max_bytes": 0}
        )
        backend = build_cache(group)
        close = getattr(backend, "close", None)
        if close is not None:
            services.closers.append(close)
        cache = ResponseCache(backend, settings.response_cache.ttl_seconds)
    engine = VoiceChatEngine(
        store,
        chat,
        CachedTTS(services.speech),
        settings.chat,
        stt=CheckedSTT(services.transcription),
        response_cache=cache,
        max_text_chars=settings.tts.max_input_chars,
    )
    services.add("conversation", engine)
    services.add("sessions", SessionService(store, settings.chat))
    if settings.tts.provider == "model_server":
        await try_sync(store, settings.tts.model_server)
        if db.tts_models_sync_seconds > 0:
            sync = keep_synced(store, settings.tts.model_server, db.tts_models_sync_seconds)
            services.closers.insert(0, _cancel_on_close(asyncio.create_task(sync)))
    log.info("voice chat ready", extra={"chat": chat.name, "store": store.dialect})


def _cancel_on_close(task: asyncio.Task[None]) -> Callable[[], Awaitable[None]]:
    async def cancel() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return cancel


def conversation(request: Request) -> VoiceChatEngine:
    services: Services = request.app.state.services
    return services.get("conversation", VoiceChatEngine)


def sessions(request: Request) -> SessionService:
    services: Services = request.app.state.services
    return services.get("sessions", SessionService)


EngineDep = Annotated[VoiceChatEngine, Depends(conversation)]
SessionsDep = Annotated[SessionService, Depends(sessions)]
