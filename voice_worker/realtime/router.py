"""`GET /v1/realtime` upgraded to a WebSocket: the OpenAI Realtime protocol.

Query: `model` (echoed in the session; the worker's chat provider answers whatever it
names), `session_id` (continue a stored voice chat session; otherwise a new one is
created and its id is in `session.created`), `intent=transcription` (a
transcription-only session: nothing is stored). The GA event names unless the client
asks for the beta ones: the header `OpenAI-Beta: realtime=v1`, or, from a browser,
the subprotocol `openai-beta.realtime-v1` (the subprotocol `realtime` is accepted as
browsers offer it). Credentials are checked at the handshake (auth.middleware: a key or
token in `Authorization`, or from a browser a client secret in the subprotocol
`openai-insecure-api-key.<secret>`); the connection works for that principal, and its
budgets (connections at once, turns a minute) are the rate limits'."""

from __future__ import annotations

from typing import cast

from fastapi import APIRouter, WebSocket
from starlette.requests import HTTPConnection

from voice_worker.auth.deps import principal
from voice_worker.realtime.connection import Opening, serve
from voice_worker.realtime.protocol import BETA_HEADER, Dialect
from voice_worker.realtime.services import RealtimeServices


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
    opening = Opening(dialect, kind, model[:200], session_id, principal(websocket))
    await serve(websocket, realtime_services(websocket), opening)
