"""`POST /v1/realtime/client_secrets` (OpenAI's route): a short-lived secret for a browser
to open one realtime session as the caller (the WebSocket, or a WebRTC call), who
authenticates with a long-lived key or token (a server, such as the web app's bridge,
calls this for its user). `session` (a session object as `session.update` takes, checked
here) goes in the secret and is applied to the session it opens (realtime/initial.py)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, cast

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from shared.limits import MAX_NAME_CHARS
from voice_worker.auth.client_secrets import ClientSecrets
from voice_worker.auth.deps import PrincipalDep
from voice_worker.errors import InvalidRequest
from voice_worker.http.responses import errors
from voice_worker.ratelimit.budgets import spends
from voice_worker.realtime.initial import MAX_SECRET_SESSION_CHARS, session_update


def client_secrets(request: Request) -> ClientSecrets:
    return cast(ClientSecrets, request.app.state.client_secrets)


ClientSecretsDep = Annotated[ClientSecrets, Depends(client_secrets)]
router = APIRouter(tags=["realtime"])


class ExpiresAfter(BaseModel):
    model_config = ConfigDict(extra="forbid")
    anchor: Literal["created_at"] = "created_at"
    seconds: int = Field(ge=10, description="Life of the secret (at most the configured one).")


class SessionRef(BaseModel):
    """The session the secret opens: `type` and `model` (not kept: the connection's
    query names the model) and any other field of a session object as `session.update`
    takes it (checked now, applied to the session before its first event). The document
    lists only these two (as the calls route's `session` does): the others are
    OpenAI's, and an unknown one is refused."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": False})
    type: Literal["realtime", "transcription"] = "realtime"
    model: str = Field("", max_length=MAX_NAME_CHARS)


class ClientSecretRequest(BaseModel):
    expires_after: ExpiresAfter | None = None
    session: SessionRef = Field(default_factory=SessionRef)


class ClientSecretOut(BaseModel):
    value: str
    expires_at: int
    session: dict[str, Any]


@router.post("/v1/realtime/client_secrets", responses=errors(400), openapi_extra=spends("realtime"))
async def create_client_secret(
    principal: PrincipalDep, secrets: ClientSecretsDep, body: ClientSecretRequest | None = None
) -> ClientSecretOut:
    seconds = body.expires_after.seconds if body and body.expires_after else None
    if seconds is not None and seconds > secrets.default_seconds:
        raise InvalidRequest(
            f"expires_after.seconds is at most {secrets.default_seconds} here",
            param="expires_after.seconds",
        )
    given = (body or ClientSecretRequest()).session
    settings = dict(given.model_extra or {})
    carried = ""
    if settings:
        settings = {"type": given.type, **settings}
        session_update(settings)  # refused here rather than when the session opens
        carried = json.dumps(settings, separators=(",", ":"))
        if len(carried) > MAX_SECRET_SESSION_CHARS:
            raise InvalidRequest(
                f"session is over {MAX_SECRET_SESSION_CHARS} characters as JSON (it travels "
                "in the secret); send the rest with session.update",
                param="session",
            )
    secret = secrets.mint(principal, seconds, carried)
    session = {**given.model_dump(exclude_defaults=True), **settings, "type": given.type}
    return ClientSecretOut(value=secret.value, expires_at=secret.expires_at, session=session)
