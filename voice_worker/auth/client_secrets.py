"""Short-lived client secrets for browsers (as OpenAI's `POST /v1/realtime/client_secrets`):
a server that holds a long-lived key asks for one on a user's behalf and hands it to the
browser, which opens the realtime WebSocket with it; a long-lived key never reaches a
page or a URL. A secret is `ek_` + a JWT (HS256, PyJWT) signed with the worker's
client-secret key, so any worker that shares the key accepts it, and it is accepted
only for a WebSocket handshake."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import jwt

from voice_worker.auth.errors import Unauthenticated
from voice_worker.auth.principal import Principal

PREFIX = "ek_"
AUDIENCE = "voice-engine:realtime"
LEEWAY_SECONDS = 5


@dataclass(frozen=True)
class ClientSecret:
    value: str
    expires_at: int  # unix seconds


class ClientSecrets:
    def __init__(self, key: str, default_seconds: int) -> None:
        #: no configured key: a random one, good for this process only
        self._key = key.encode() if key else secrets.token_bytes(32)
        self.shared = bool(key)
        self.default_seconds = default_seconds

    def mint(self, principal: Principal, seconds: int | None = None) -> ClientSecret:
        now = int(time.time())
        expires = now + (seconds or self.default_seconds)
        claims = {
            "sub": principal.user,
            "adm": principal.admin,
            "anon": not principal.authenticated,
            "aud": AUDIENCE,
            "iat": now,
            "nbf": now,
            "exp": expires,
        }
        return ClientSecret(PREFIX + jwt.encode(claims, self._key, "HS256"), expires)

    def verify(self, value: str) -> Principal:
        try:
            claims = jwt.decode(
                value.removeprefix(PREFIX),
                self._key,
                algorithms=["HS256"],
                audience=AUDIENCE,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "nbf", "sub", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the client secret has expired", "invalid_token") from None
        except jwt.InvalidTokenError:
            raise Unauthenticated("the client secret is not valid", "invalid_token") from None
        return Principal(
            str(claims["sub"]), admin=bool(claims.get("adm")), authenticated=not claims.get("anon")
        )
