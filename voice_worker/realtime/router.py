"""`GET /v1/realtime` upgraded to a WebSocket: the OpenAI Realtime protocol.

Query: `model` (echoed in the session; the worker's chat provider answers whatever it
names), `session_id` (continue a stored voice chat session; otherwise a new one is
created and its id is in `session.created`), `intent=transcription` (a
transcription-only session: nothing is stored). The GA event names unless the client
asks for the beta ones: the header `OpenAI-Beta: realtime=v1`, or, from a browser,
the subprotocol `openai-beta.realtime-v1` (the subprotocol `realtime` is accepted as
browsers offer it). Credentials are checked at the handshake (auth.middleware: a key or
token in `Authorization`, or from a browser a client secret in the subprotocol
`openai-insecure-api-key.<secret>`: its session settings are applied first, see
realtime/initial.py); the connection works for that principal, and its budgets
(connections at once, turns a minute) are the rate limits'."""

from __future__ import annotations

import json
from typing import cast

from fastapi import APIRouter, Request, WebSocket
from fastapi.responses import Response
from openai.types.realtime import SessionUpdateEvent
from starlette.requests import HTTPConnection

from voice_worker.auth.deps import PrincipalDep, principal
from voice_worker.errors import InvalidRequest
from voice_worker.http.responses import errors
from voice_worker.ratelimit.budgets import spends
from voice_worker.realtime.connection import Opening, serve
from voice_worker.realtime.initial import of_secret, session_update
from voice_worker.realtime.protocol import BETA_HEADER, Dialect
from voice_worker.realtime.services import RealtimeServices
from voice_worker.realtime.webrtc import calls


def realtime_services(connection: HTTPConnection) -> RealtimeServices:
    return cast(RealtimeServices, connection.app.state.realtime)


router = APIRouter(tags=["realtime"])
BETA_SUBPROTOCOL = "openai-beta.realtime-v1"
INTENTS = {"": "realtime", "conversation": "realtime", "transcription": "transcription"}


@router.websocket("/v1/realtime")
async def realtime(
    websocket: WebSocket,
    model: str = "",
    session_id: str | None = None,
    intent: str = "",
) -> None:
    offered = [p.strip() for p in websocket.scope.get("subprotocols", [])]
    beta = BETA_HEADER in websocket.headers.get("openai-beta", "").lower()
    dialect: Dialect = "beta" if beta or BETA_SUBPROTOCOL in offered else "ga"
    await websocket.accept(subprotocol="realtime" if "realtime" in offered else None)
    kind = INTENTS.get(intent)
    if kind is None:
        await websocket.close(code=1008, reason=f"unknown intent {intent[:40]!r}")
        return
    caller = principal(websocket)
    opening = Opening(dialect, kind, model[:200], session_id, caller)
    await serve(websocket, realtime_services(websocket), opening, of_secret(caller))


MAX_SDP_BYTES = 64 * 1024
SDP_FORMAT = "sdp-offer"  # a WebRTC offer: audio and a data channel (RFC 8866, 8829)
SDP_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/sdp": {"schema": {"type": "string", "format": SDP_FORMAT}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "sdp": {"type": "string", "format": SDP_FORMAT},
                        "session": {
                            "type": "object",
                            "description": "The session's first settings: a session object "
                            "as `session.update` takes (its other fields as there).",
                            "properties": {"type": {"const": "realtime"}},
                            "required": ["type"],
                            "additionalProperties": False,
                        },
                    },
                    "required": ["sdp"],
                }
            },
        },
    }
}


async def _offer(request: Request) -> tuple[str, SessionUpdateEvent | None]:
    """The SDP offer and the session's first settings (`session`, a session object as
    in `session.update`), from `application/sdp` or a multipart form."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    session: object = None
    if kind == "multipart/form-data":
        form = await request.form()
        sdp, raw = form.get("sdp"), form.get("session")
        if not isinstance(sdp, str):
            raise InvalidRequest("the form has no sdp field (the offer)", param="sdp")
        if isinstance(raw, str) and raw.strip():
            try:
                session = json.loads(raw)
            except ValueError:
                raise InvalidRequest("session is not JSON", param="session") from None
    elif kind in ("application/sdp", "text/plain", ""):
        body = await request.body()
        if len(body) > MAX_SDP_BYTES:
            raise InvalidRequest(f"the offer is over {MAX_SDP_BYTES} bytes", param="sdp")
        sdp = body.decode("utf-8", "replace")
    else:
        raise InvalidRequest(
            f"send the offer as application/sdp or multipart/form-data, not {kind}",
            param="content-type",
        )
    if not sdp.lstrip().startswith("v=0"):
        raise InvalidRequest("sdp: an SDP offer starts with v=0", param="sdp")
    if "m=application" not in sdp:
        raise InvalidRequest(
            "sdp: the offer has no data channel (m=application) for oai-events", param="sdp"
        )
    if "m=audio" not in sdp:
        raise InvalidRequest("sdp: the offer has no audio (m=audio)", param="sdp")
    if "opus/48000" not in sdp.lower():
        raise InvalidRequest(
            "sdp: the offer's audio has no Opus (a=rtpmap: opus/48000/2)", param="sdp"
        )
    if "a=fingerprint:" not in sdp:
        raise InvalidRequest("sdp: the offer has no DTLS fingerprint (a=fingerprint)", param="sdp")
    return sdp, None if session is None else session_update(session)


@router.post(
    "/v1/realtime/calls",
    status_code=201,
    response_class=Response,
    responses={
        201: {
            "description": "The SDP answer; `Location` names the call (DELETE it to hang up).",
            "content": {"application/sdp": {"schema": {"type": "string"}}},
            "headers": {"Location": {"schema": {"type": "string"}}},
        },
        **errors(400, 404, 409),
    },
    openapi_extra={**spends("realtime"), **SDP_BODY},
)
async def create_call(
    request: Request, caller: PrincipalDep, model: str = "", session_id: str | None = None
) -> Response:
    """A WebRTC call (OpenAI's GA route): the client's SDP offer in, the answer out;
    `session_id` continues a stored session, as on the WebSocket."""
    offer, form = await _offer(request)
    initial = [*of_secret(caller), *([form] if form else [])]
    services = realtime_services(request)
    opening = Opening("ga", "realtime", model[:200], session_id, caller)
    call_id, answer = await calls.start(services, opening, offer, initial)
    return Response(
        answer,
        status_code=201,
        media_type="application/sdp",
        headers={"Location": f"/v1/realtime/calls/{call_id}"},
    )


@router.delete(
    "/v1/realtime/calls/{call_id}",
    status_code=204,
    response_class=Response,
    responses=errors(404),
    openapi_extra=spends("realtime"),
)
async def hang_up(call_id: str, request: Request, caller: PrincipalDep) -> Response:
    await calls.hang_up(realtime_services(request), call_id, caller)
    return Response(status_code=204)
