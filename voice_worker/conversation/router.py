"""POST /api/voice/sessions/{id}/messages (multipart `audio`: speech in, speech out)
and /text (JSON `text`: text in, speech out). JSON by default; with `Accept: audio/*`
the reply is the audio itself and the texts ride in URL-encoded headers; with
`Accept: text/event-stream` the turn streams as Server-Sent Events while it is written
and spoken (conversation.sse). What can be refused before anything is said (an unknown
session, bad input, unreadable or silent audio) is refused with an HTTP status."""

from __future__ import annotations

import json
from typing import Annotated, cast
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Request, Response, UploadFile

from shared.audio.formats import MIME_TYPES, AudioFormat
from voice_worker.auth.deps import PrincipalDep
from voice_worker.conversation.engine import VoiceChatEngine
from voice_worker.conversation.protocol import TextTurn, TurnOut
from voice_worker.conversation.sse import MEDIA_TYPE, turn_events
from voice_worker.conversation.turn import Turn, TurnResult
from voice_worker.http.headers import REPLAYED, IdempotencyKey
from voice_worker.http.responses import AUDIO, TURN_EVENTS, errors
from voice_worker.ratelimit.budgets import spends
from voice_worker.transcription.router import TranscriberDep


def engine(request: Request) -> VoiceChatEngine:
    return cast(VoiceChatEngine, request.app.state.conversation)


EngineDep = Annotated[VoiceChatEngine, Depends(engine)]
router = APIRouter(prefix="/api/voice/sessions", tags=["voice chat"])
MAX_HEADER_CHARS = 2000
REPLY = {
    "description": "The turn: JSON by default; with `Accept: audio/*` the reply's audio "
    "(its texts in URL-encoded X-Reply-Text, X-Transcript, X-Thinking headers); with "
    "`Accept: text/event-stream` Server-Sent Events as it is written and spoken.",
    "content": {**AUDIO, **TURN_EVENTS},
}


@router.post(
    "/{session_id}/messages",
    response_model=TurnOut,
    responses={200: REPLY, **errors(400, 404, 409, 413, 422, 502, 503, 504)},
    openapi_extra=spends("turns"),
)
async def voice_turn(
    session_id: str,
    request: Request,
    engine: EngineDep,
    transcriber: TranscriberDep,
    principal: PrincipalDep,
    audio: Annotated[UploadFile, File()],
    idempotency_key: IdempotencyKey = None,
) -> Response:
    transcriber.check_size(audio.size, "audio")  # VOICE_STT__MAX_BYTES, before reading
    turn = await engine.begin_audio(session_id, await audio.read(), principal, idempotency_key)
    return await respond(engine, turn, request)


@router.post(
    "/{session_id}/text",
    response_model=TurnOut,
    responses={200: REPLY, **errors(400, 404, 409, 422, 502, 503, 504)},
    openapi_extra=spends("turns"),
)
async def text_turn(
    session_id: str,
    body: TextTurn,
    request: Request,
    engine: EngineDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    turn = await engine.begin_text(session_id, body.text, principal, idempotency_key)
    return await respond(engine, turn, request)


async def respond(engine: VoiceChatEngine, turn: Turn, request: Request) -> Response:
    if MEDIA_TYPE in request.headers.get("accept", ""):
        response: Response = turn_events(engine.run(turn))
    else:
        response = reply(await engine.collect(turn), request)
    if turn.replay is not None:
        response.headers[REPLAYED] = "true"
    return response


def reply(result: TurnResult, request: Request) -> Response:
    accept = request.headers.get("accept", "")
    if "audio/" not in accept:
        return Response(TurnOut.of(result).model_dump_json(), media_type="application/json")
    headers = {
        "X-Session-Id": result.session_id,
        "X-Reply-Text": _header(result.reply_text),
        "X-Thinking": _header(result.thinking),
        "X-Timings": json.dumps(result.timings),
        "X-Assistant-Message-Id": str(result.assistant_message_id),
    }
    if result.transcript is not None:
        headers["X-Transcript"] = _header(result.transcript)
    media_type = MIME_TYPES[AudioFormat(result.audio_format)]
    return Response(result.audio, media_type=media_type, headers=headers)


def _header(text: str) -> str:
    """URL-encoded (UTF-8), so any language survives an ASCII header."""
    return quote(text[:MAX_HEADER_CHARS], safe=" ,.?!'")
