"""The worker's HTTP app: `create_app(settings)`. The one place that assembles it.

At start-up the lifespan builds every part (voice_worker/components.py) inside one
`AsyncExitStack` and puts the ones routes use on `app.state` (`install`); at shutdown
the stack releases them in reverse order. Each feature's router module holds the tiny
accessor its routes depend on (`SpeechDep` in speech/router.py reads
`app.state.speech`, ...), as in vLLM's entrypoints. To add a feature: its domain object
in `Components`, its line in `install`, its router in `ROUTERS`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from fastapi import APIRouter, FastAPI
from starlette.datastructures import State

from voice_worker import openapi
from voice_worker.auth.authenticator import Authenticator
from voice_worker.auth.exposure import check_exposure
from voice_worker.auth.middleware import AuthMiddleware
from voice_worker.catalog.choices import SpeechChoices
from voice_worker.catalog.router import router as catalog_router
from voice_worker.components import Components, build_components
from voice_worker.console.router import router as console_router
from voice_worker.conversation.router import router as voice_chat_router
from voice_worker.conversation.sessions_router import router as voice_sessions_router
from voice_worker.health.router import router as health_router
from voice_worker.http import errors
from voice_worker.http.middleware import RequestIdMiddleware
from voice_worker.observability.http import MetricsMiddleware
from voice_worker.ratelimit.budgets import RouteBudgets
from voice_worker.ratelimit.limiter import RateLimiter
from voice_worker.ratelimit.middleware import RateLimitMiddleware
from voice_worker.realtime.client_secrets_router import router as client_secrets_router
from voice_worker.realtime.router import router as realtime_router
from voice_worker.realtime.services import RealtimeServices
from voice_worker.realtime.webrtc.calls import end_all as end_calls
from voice_worker.settings import Settings
from voice_worker.speech.router import router as speech_router
from voice_worker.transcription.router import router as transcription_router

log = logging.getLogger(__name__)

#: every router the app serves; add yours here
ROUTERS: list[APIRouter] = [
    health_router,
    speech_router,
    transcription_router,
    catalog_router,
    voice_sessions_router,
    voice_chat_router,
    client_secrets_router,
    realtime_router,
    console_router,
]


def install(state: State, components: Components, realtime: RealtimeServices) -> None:
    """The parts routes use, where their routers' accessors read them."""
    state.speech = components.speech
    state.transcriber = components.transcriber
    state.conversation = components.conversation
    state.sessions = components.sessions
    state.catalog = components.catalog
    state.health = components.health
    state.realtime = realtime


@dataclass
class Running:
    """What the lifespan built, for the parts made before it (the rate-limit
    middleware, the API document): nothing until start-up."""

    components: Components | None = None

    def rate_limiter(self) -> RateLimiter | None:
        return self.components.rate_limiter if self.components else None

    def speech_choices(self) -> SpeechChoices | None:
        return self.components.speech.choices if self.components else None


def warn_about(settings: Settings, authenticator: Authenticator) -> None:
    """Settings that work on one process and not on several."""
    if settings.http_workers > 1 and not authenticator.client_secrets.shared:
        log.warning(
            "client secrets work only on the process that made them: set "
            "VOICE_AUTH__CLIENT_SECRET_KEY (the same on every worker)"
        )
    limits = settings.rate_limit
    per_process = limits.active(settings.auth.mode) and limits.storage == "memory"
    if per_process and settings.http_workers > 1:
        log.warning(
            "rate limits count per process: set VOICE_RATE_LIMIT__STORAGE=redis so "
            "every worker shares one budget"
        )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    check_exposure(settings.auth, settings.http_host)  # no auth on a public address: refuse
    authenticator = Authenticator(settings.auth)
    running = Running()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            components = await build_components(settings, stack)
            realtime = await RealtimeServices.build(
                components.conversation,
                components.sessions,
                components.transcriber,
                settings.realtime,
                settings.tools,
            )
            stack.push_async_callback(end_calls, realtime)  # WebRTC calls end before the parts
            install(app.state, components, realtime)
            running.components = components
            log.info(
                "voice worker ready",
                extra={
                    "stt": components.stt.name,
                    "tts": components.tts.name,
                    "cache": components.cache.name,
                    "auth": settings.auth.mode,
                    "rate_limits": components.rate_limiter is not None,
                },
            )
            warn_about(settings, authenticator)
            try:
                yield
            finally:
                running.components = None

    app = FastAPI(
        title="Voice Engine worker",
        version="0.1.0",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    errors.install(app)
    openapi.install(app, settings, running.speech_choices)
    for router in ROUTERS:
        app.include_router(router)
    app.state.client_secrets = authenticator.client_secrets
    # outermost last: request ID and access log, metrics (401s and 429s counted too), then
    # who is calling, then their budget
    app.add_middleware(
        RateLimitMiddleware,
        limiter=running.rate_limiter,
        budgets=RouteBudgets(route for router in ROUTERS for route in router.routes),
        trust_forwarded_for=settings.rate_limit.trust_forwarded_for,
    )
    app.add_middleware(AuthMiddleware, authenticator=authenticator)
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(RequestIdMiddleware, access_log=settings.access_log)
    return app
