"""/api/voice/sessions: create, list, read, change and delete sessions; read history.
Each for the caller (the principal): ownership is the SessionManager's."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import APIRouter, Depends, Query, Request, Response

from voice_worker.auth.deps import PrincipalDep
from voice_worker.conversation.protocol import (
    MessageOut,
    MessagePage,
    SessionCreate,
    SessionOut,
    SessionPage,
    SessionPatch,
)
from voice_worker.conversation.sessions import MAX_PAGE, SessionManager
from voice_worker.http.headers import REPLAYED, IdempotencyKey
from voice_worker.http.responses import errors
from voice_worker.ratelimit.budgets import spends
from voice_worker.store.cursors import MESSAGE_CURSOR_PATTERN, SESSION_CURSOR_PATTERN


def sessions(request: Request) -> SessionManager:
    return cast(SessionManager, request.app.state.sessions)


SessionsDep = Annotated[SessionManager, Depends(sessions)]
router = APIRouter(prefix="/api/voice/sessions", tags=["voice chat"])
SESSIONS = spends("sessions")
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Items per page.")]


@router.post("", status_code=201, responses=errors(400, 404, 409, 422, 503), openapi_extra=SESSIONS)
async def create_session(
    sessions: SessionsDep,
    principal: PrincipalDep,
    response: Response,
    body: SessionCreate | None = None,
    idempotency_key: IdempotencyKey = None,
) -> SessionOut:
    body = body or SessionCreate()
    record, replayed = await sessions.create_once(
        principal, body.settings, body.title, idempotency_key
    )
    if replayed:
        response.headers[REPLAYED] = "true"
    return SessionOut.of(record)


@router.get("", responses=errors(400, 503), openapi_extra=SESSIONS)
async def list_sessions(
    sessions: SessionsDep,
    principal: PrincipalDep,
    limit: Limit = 50,
    cursor: Annotated[str | None, Query(pattern=SESSION_CURSOR_PATTERN)] = None,
) -> SessionPage:
    page = await sessions.list(principal, limit, cursor)
    return SessionPage(items=[SessionOut.of(s) for s in page.items], next_cursor=page.next_cursor)


@router.get("/{session_id}", responses=errors(404, 503), openapi_extra=SESSIONS)
async def get_session(
    session_id: str, sessions: SessionsDep, principal: PrincipalDep
) -> SessionOut:
    return SessionOut.of(await sessions.get(principal, session_id))


@router.patch("/{session_id}", responses=errors(400, 404, 503), openapi_extra=SESSIONS)
async def update_session(
    session_id: str, body: SessionPatch, sessions: SessionsDep, principal: PrincipalDep
) -> SessionOut:
    changes = body.settings.model_dump(exclude_unset=True, exclude_none=True)  # null: kept
    return SessionOut.of(await sessions.update(principal, session_id, changes, body.title))


@router.delete("/{session_id}", status_code=204, responses=errors(404, 503), openapi_extra=SESSIONS)
async def delete_session(
    session_id: str, sessions: SessionsDep, principal: PrincipalDep
) -> Response:
    await sessions.delete(principal, session_id)
    return Response(status_code=204)


@router.get("/{session_id}/messages", responses=errors(400, 404, 503), openapi_extra=SESSIONS)
async def list_messages(
    session_id: str,
    sessions: SessionsDep,
    principal: PrincipalDep,
    limit: Limit = 50,
    cursor: Annotated[str | None, Query(pattern=MESSAGE_CURSOR_PATTERN)] = None,
) -> MessagePage:
    page = await sessions.messages(principal, session_id, limit, cursor)
    return MessagePage(items=[MessageOut.of(m) for m in page.items], next_cursor=page.next_cursor)
