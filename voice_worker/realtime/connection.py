"""One WebSocket connection, start to end: the session it speaks for (a stored voice
chat session, continued or new; none for transcription), then two tasks, the reader
(each message parsed and handled in turn, realtime/session.py) and the writer (the
outbox), until the client leaves, the socket fails or the client reads too slowly.
At the end a response in progress is cancelled (nothing half is stored) and the
session is released."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from openai.types.realtime import SessionCreatedEvent
from pydantic import BaseModel
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from shared.logs import Stopwatch, new_request_id, request_id_var
from voice_worker.auth.principal import Principal
from voice_worker.conversation.turn import Heard
from voice_worker.errors import InvalidRequest, VoiceError
from voice_worker.observability import metrics
from voice_worker.realtime import events as ev
from voice_worker.realtime.beta import server_from_ga
from voice_worker.realtime.config import RealtimeConfig
from voice_worker.realtime.errors import error_event, internal_error_event
from voice_worker.realtime.ids import new_id
from voice_worker.realtime.mcp_tools import SessionTools
from voice_worker.realtime.outbox import Encode, Outbox
from voice_worker.realtime.protocol import BadEvent, Dialect, parse_event
from voice_worker.realtime.services import RealtimeServices
from voice_worker.realtime.session import RealtimeSession
from voice_worker.realtime.vad import VadConfig
from voice_worker.store.base import SessionRecord, SessionSettings
from voice_worker.stt.base import TranscriptionOptions
from voice_worker.transcription.transcriber import Upload

log = logging.getLogger(__name__)
SLOW_CONSUMER, REFUSED = 1008, 1008


@dataclass(frozen=True)
class Opening:
    """What the handshake asked for."""

    dialect: Dialect
    kind: str  # realtime or transcription
    model: str
    session_id: str | None
    principal: Principal  # who is calling (auth.middleware)


def encoder(dialect: Dialect) -> Encode:
    """Events as JSON text, beta-named for a beta client (None: beta has no such event)."""

    def encode(event: BaseModel) -> str | None:
        if dialect == "beta":
            converted = server_from_ga(event)
            if converted is None:
                return None
            event = converted
        return event.model_dump_json(exclude_unset=True)

    return encode


async def serve(
    websocket: WebSocket,
    services: RealtimeServices,
    opening: Opening,
    initial: Sequence[BaseModel] = (),
) -> None:
    """Serve the connection; `initial`: session.update events applied after
    session.created (a client secret's settings)."""
    connection = new_request_id()
    token = request_id_var.set(connection)
    outbox = Outbox(encoder(opening.dialect), services.settings.max_queued_bytes)
    writer = asyncio.create_task(outbox.run(websocket.send_text))
    watch = Stopwatch()
    try:
        with metrics.realtime_connection():
            await _serve(websocket, services, opening, outbox, writer, initial)
    finally:
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)
        log.info(
            "realtime connection closed",
            extra={"seconds": round(watch.seconds, 1), "events_sent": outbox.sent_events},
        )
        request_id_var.reset(token)


async def _serve(
    websocket: WebSocket,
    services: RealtimeServices,
    opening: Opening,
    outbox: Outbox,
    writer: asyncio.Task[None],
    initial: Sequence[BaseModel],
) -> None:
    try:
        record = await open_record(services, opening)
    except VoiceError as exc:
        outbox.put(error_event(exc))
        await _close(websocket, outbox, REFUSED, exc.code or "refused")
        return
    claim = services.claims.claim(record.id) if record else contextlib.nullcontext()
    try:
        with claim:
            session = new_session(services, opening, outbox, record)
            outbox.put(ev.event(SessionCreatedEvent, session=session.session_object()))
            for update in initial:
                await session.handle(update)  # type: ignore[arg-type]
            log.info(
                "realtime connection",
                extra={"session_id": session.session_id, "kind": opening.kind},
            )
            await _run(websocket, session, outbox, writer, opening.dialect)
    except VoiceError as exc:  # the claim refused
        outbox.put(error_event(exc))
        await _close(websocket, outbox, REFUSED, exc.code or "refused")


async def open_record(services: RealtimeServices, opening: Opening) -> SessionRecord | None:
    if opening.kind == "transcription":
        return None
    if opening.session_id:
        return await services.sessions.get(opening.principal, opening.session_id)
    return await services.sessions.create(opening.principal, SessionSettings(), title="realtime")


def new_session(
    services: RealtimeServices, opening: Opening, outbox: Outbox, record: SessionRecord | None
) -> RealtimeSession:
    s = services.settings
    vad = VadConfig(s.vad_threshold, s.vad_prefix_padding_ms, s.vad_silence_duration_ms)
    config = RealtimeConfig(opening.kind, opening.model, turn_detection=vad)  # type: ignore[arg-type]
    engine = services.engine

    async def hear_in_session(audio: bytes, config: RealtimeConfig) -> Heard:
        assert record is not None
        return await engine.hear(record, audio, config.language)

    async def transcribe(audio: bytes, config: RealtimeConfig) -> Heard:
        watch = Stopwatch()
        options = TranscriptionOptions(language=config.language or None, prompt=config.prompt)
        transcript = await services.transcriber.transcribe(Upload(audio, param="audio"), options)
        return Heard(transcript, watch.seconds)

    if record is None:
        session_id = new_id("sess")
        return RealtimeSession(config, s, outbox, services.vad, transcribe, session_id)
    return RealtimeSession(
        config,
        s,
        outbox,
        services.vad,
        hear_in_session,
        record.id,
        engine,
        record,
        opening.principal,
        SessionTools(engine.replies.tools, services.tools),
    )


async def _run(
    websocket: WebSocket,
    session: RealtimeSession,
    outbox: Outbox,
    writer: asyncio.Task[None],
    dialect: Dialect,
) -> None:
    reader = asyncio.create_task(_read(websocket, session, outbox, dialect))
    overflow = asyncio.create_task(outbox.overflowed.wait())
    try:
        await asyncio.wait({reader, writer, overflow}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        reader.cancel()
        overflow.cancel()
        await asyncio.gather(reader, overflow, return_exceptions=True)
        await session.close()
    if outbox.overflowed.is_set():
        await _close(websocket, None, SLOW_CONSUMER, "slow consumer: events queued past the limit")


async def _read(
    websocket: WebSocket, session: RealtimeSession, outbox: Outbox, dialect: Dialect
) -> None:
    while True:
        try:
            message = await websocket.receive()
        except (WebSocketDisconnect, RuntimeError):
            return
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if text is None:
            error = InvalidRequest("send events as text frames (JSON)", code="invalid_json")
            outbox.put(error_event(error))
            continue
        await handle_text(text, session, outbox, dialect)


async def handle_text(
    text: str, session: RealtimeSession, outbox: Outbox, dialect: Dialect
) -> None:
    event_id: str | None = None
    try:
        event = parse_event(text, dialect)
        event_id = getattr(event, "event_id", None)
        await session.handle(event)
    except BadEvent as bad:
        outbox.put(error_event(bad.error, bad.event_id))
    except VoiceError as exc:
        outbox.put(error_event(exc, event_id))
    except Exception:
        log.exception("realtime event failed")
        outbox.put(internal_error_event(request_id_var.get() or "?", event_id))


async def _close(websocket: WebSocket, outbox: Outbox | None, code: int, reason: str) -> None:
    """Say goodbye (what is queued first, briefly), then close."""
    if websocket.application_state is not WebSocketState.CONNECTED:
        return
    with contextlib.suppress(Exception):
        if outbox is not None:
            await asyncio.wait_for(outbox.drained(), 2.0)
        await asyncio.wait_for(websocket.close(code=code, reason=reason[:120]), 2.0)
