"""The worker's HTTP app: `create_app(settings)`.

At start-up the lifespan builds every part (voice_worker/components.py) inside one
`AsyncExitStack` and installs the ones routes use on `app.state` (voice_worker/deps.py);
at shutdown the stack releases them in reverse order. To add a feature: its domain
object in `Components`, its accessor in `deps`, its router in `ROUTERS`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import APIRouter, FastAPI

from voice_worker import deps
from voice_worker.catalog.router import router as catalog_router
from voice_worker.components import build_components
from voice_worker.console.router import router as console_router
from voice_worker.conversation.router import router as voice_chat_router
from voice_worker.conversation.sessions_router import router as voice_sessions_router
from voice_worker.health.router import router as health_router
from voice_worker.http import errors
from voice_worker.http.middleware import RequestIdMiddleware
from voice_worker.realtime.router import router as realtime_router
from voice_worker.realtime.services import RealtimeServices
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
    realtime_router,
    console_router,
]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            components = await build_components(settings, stack)
            realtime = await RealtimeServices.build(
                components.conversation,
                components.sessions,
                components.transcriber,
                settings.realtime,
            )
            deps.install(app.state, components, realtime)
            log.info(
                "voice worker ready",
                extra={
                    "stt": components.stt.name,
                    "tts": components.tts.name,
                    "cache": components.cache.name,
                },
            )
            yield

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
