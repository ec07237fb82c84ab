"""Per-feature state on `app.state`, and the tiny accessors routers depend on (as in
vLLM's entrypoints): `install(app.state, components)` at start-up, then a route asks
for `SpeechDep`, `TranscriberDep`, ... and gets a typed object."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request
from starlette.datastructures import State
from starlette.requests import HTTPConnection

from voice_worker.catalog.catalog import Catalog
from voice_worker.components import Components
from voice_worker.conversation.engine import VoiceChatEngine
from voice_worker.conversation.sessions import SessionManager
from voice_worker.health.probe import HealthProbe
from voice_worker.realtime.services import RealtimeServices
from voice_worker.speech.cached_speech import CachedSpeech
from voice_worker.transcription.transcriber import Transcriber


def install(state: State, components: Components, realtime: RealtimeServices) -> None:
    state.speech = components.speech
    state.transcriber = components.transcriber
    state.conversation = components.conversation
    state.sessions = components.sessions
    state.catalog = components.catalog
    state.health = components.health
    state.rate_limiter = components.rate_limiter  # read by ratelimit.middleware
    state.realtime = realtime


def speech(request: Request) -> CachedSpeech:
    return cast(CachedSpeech, request.app.state.speech)


def transcriber(request: Request) -> Transcriber:
    return cast(Transcriber, request.app.state.transcriber)


def conversation(request: Request) -> VoiceChatEngine:
    return cast(VoiceChatEngine, request.app.state.conversation)


def sessions(request: Request) -> SessionManager:
    return cast(SessionManager, request.app.state.sessions)


def catalog(request: Request) -> Catalog:
    return cast(Catalog, request.app.state.catalog)


def health(request: Request) -> HealthProbe:
    return cast(HealthProbe, request.app.state.health)


def realtime_services(connection: HTTPConnection) -> RealtimeServices:
    return cast(RealtimeServices, connection.app.state.realtime)


SpeechDep = Annotated[CachedSpeech, Depends(speech)]
TranscriberDep = Annotated[Transcriber, Depends(transcriber)]
EngineDep = Annotated[VoiceChatEngine, Depends(conversation)]
SessionsDep = Annotated[SessionManager, Depends(sessions)]
CatalogDep = Annotated[Catalog, Depends(catalog)]
HealthDep = Annotated[HealthProbe, Depends(health)]
