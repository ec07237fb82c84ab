"""The worker's FastAPI app: `create_app(settings)`.

To add a feature: put its router in `ROUTERS` and, if it needs long-lived objects
(clients, stores), an `async def build(services)` in `EXTENSIONS` that registers them
with `services.add(...)` (see voice_worker/services.py)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from voice_worker.catalog.router import router as catalog_router
from voice_worker.conversation.router import router as voice_chat_router
from voice_worker.conversation.service import build_conversation
from voice_worker.conversation.sessions_router import router as voice_sessions_router
from voice_worker.health.router import router as health_router
from voice_worker.http import errors
from voice_worker.http.middleware import RequestIdMiddleware
from voice_worker.services import Services
from voice_worker.settings import Settings
from voice_worker.speech.router import router as speech_router
from voice_worker.transcription.router import router as transcription_router
from voice_worker.voice_api.router import router as voice_api_router

log = logging.getLogger(__name__)

#: every router the app serves; add yours here
ROUTERS: list[APIRouter] = [
    health_router,
    speech_router,
    transcription_router,
    catalog_router,
    voice_api_router,
    voice_sessions_router,
    voice_chat_router,
]

#: builders run at start-up after the core services, in order (chat, sessions, ...)
EXTENSIONS: list[Callable[[Services], Awaitable[None]]] = [build_conversation]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = await Services.build(settings)
        try:
            for extension in EXTENSIONS:
                await extension(services)
            app.state.services = services
            log.info(
                "voice worker ready",
                extra={
                    "stt": services.stt.name,
                    "tts": services.tts.name,
                    "cache": services.cache.name,
                },
            )
            yield
        finally:
            await services.aclose()

    app = FastAPI(
        title="Voice Engine worker",
        version="0.1.0",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    errors.install(app)
    for router in ROUTERS:
        app.include_router(router)
    app.add_middleware(RequestIdMiddleware, access_log=settings.access_log)
    return app
