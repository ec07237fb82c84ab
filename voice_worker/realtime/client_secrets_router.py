"""`POST /v1/realtime/client_secrets` (OpenAI's route): a short-lived secret for a browser
to open the realtime WebSocket as the caller, who authenticates with a long-lived key or
token (a server, such as the web app's bridge, calls this for its user)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, cast

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from shared.limits import MAX_NAME_CHARS
from voice_worker.auth.client_secrets import ClientSecrets
from voice_worker.auth.deps import PrincipalDep
from voice_worker.errors import InvalidRequest
from voice_worker.http.responses import errors
from voice_worker.ratelimit.budgets import spends


def client_secrets(request: Request) -> ClientSecrets:
    return cast(ClientSecrets, request.app.state.client_secrets)


ClientSecretsDep = Annotated[ClientSecrets, Depends(client_secrets)]
router = APIRouter(tags=["realtime"])


class ExpiresAfter(BaseModel):
    model_config = ConfigDict(extra="forbid")
    anchor: Literal["created_at"] = "created_at"
    seconds: int = Field(ge=10, description="Life of the secret (at most the configured one).")


class SessionRef(BaseModel):
    """What the secret is for (OpenAI's `session`; its other fields are not kept)."""

    model_config = ConfigDict(extra="ignore")
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
    secret = secrets.mint(principal, seconds)
    session = (body or ClientSecretRequest()).session.model_dump(exclude_defaults=True)
    return ClientSecretOut(
        value=secret.value, expires_at=secret.expires_at, session={"type": "realtime", **session}
    )
