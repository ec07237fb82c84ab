"""/api/voice/sessions: create, list, read, change and delete sessions; read history.
Each for the caller (the principal): ownership is the SessionManager's."""

from __future__ import annotations

from fastapi import APIRouter, Response

from voice_worker.auth.deps import PrincipalDep
from voice_worker.conversation.protocol import (
    MessageOut,
    MessagePage,
    SessionCreate,
    SessionOut,
    SessionPage,
    SessionPatch,
)
from voice_worker.deps import SessionsDep

router = APIRouter(prefix="/api/voice/sessions", tags=["voice chat"])


@router.post("", status_code=201)
async def create_session(
    sessions: SessionsDep, principal: PrincipalDep, body: SessionCreate | None = None
) -> SessionOut:
    body = body or SessionCreate()
    return SessionOut.of(await sessions.create(principal, body.settings, body.title))


@router.get("")
async def list_sessions(
    sessions: SessionsDep, principal: PrincipalDep, limit: int = 50, cursor: str | None = None
) -> SessionPage:
    page = await sessions.list(principal, limit, cursor)
    return SessionPage(items=[SessionOut.of(s) for s in page.items], next_cursor=page.next_cursor)


@router.get("/{session_id}")
async def get_session(
    session_id: str, sessions: SessionsDep, principal: PrincipalDep
) -> SessionOut:
    return SessionOut.of(await sessions.get(principal, session_id))


@router.patch("/{session_id}")
async def update_session(
    session_id: str, body: SessionPatch, sessions: SessionsDep, principal: PrincipalDep
) -> SessionOut:
    changes = body.settings.model_dump(exclude_unset=True)
    return SessionOut.of(await sessions.update(principal, session_id, changes, body.title))


@router.delete("/{session_id}", status_code=204)
async def delete_session(
    session_id: str, sessions: SessionsDep, principal: PrincipalDep
) -> Response:
    await sessions.delete(principal, session_id)
    return Response(status_code=204)


@router.get("/{session_id}/messages")
async def list_messages(
    session_id: str,
    sessions: SessionsDep,
    principal: PrincipalDep,
    limit: int = 50,
    cursor: str | None = None,
) -> MessagePage:
    page = await sessions.messages(principal, session_id, limit, cursor)
    return MessagePage(items=[MessageOut.of(m) for m in page.items], next_cursor=page.next_cursor)
