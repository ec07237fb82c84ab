"""Short-lived client secrets for browsers (as OpenAI's `POST /v1/realtime/client_secrets`):
a server that holds a long-lived key asks for one on a user's behalf and hands it to the
browser, which opens one realtime session with it (the WebSocket, or a WebRTC call's
`POST /v1/realtime/calls`); a long-lived key never reaches a page or a URL. A secret is
`ek_` + a JWT (HS256, PyJWT) signed with the worker's client-secret key, so any worker
that shares the key accepts it. It may carry the session's settings (the `ses` claim:
signed, not encrypted, so the browser can read them), applied to the session it opens.

A secret opens one session: `spend` refuses one seen before (its `jti`, remembered by
this process until the secret expires; a worker that shares the key does not know
what another has seen, so across workers the bound is the secret's short life)."""

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
        self._spent: dict[str, float] = {}  # jti -> when it expires (unix seconds)

    def mint(
        self, principal: Principal, seconds: int | None = None, session: str = ""
    ) -> ClientSecret:
        """A secret for `principal`, carrying `session` (a session object's JSON)."""
        now = int(time.time())
        expires = now + (seconds or self.default_seconds)
        claims: dict[str, object] = {
            "sub": principal.user,
            "adm": principal.admin,
            "anon": not principal.authenticated,
            "aud": AUDIENCE,
            "iat": now,
            "nbf": now,
            "exp": expires,
            "jti": secrets.token_urlsafe(12),
        }
        if session:
            claims["ses"] = session
        return ClientSecret(PREFIX + jwt.encode(claims, self._key, "HS256"), expires)

    def open_session(self, value: str) -> Principal:
        """`verify`, then `spend`: the principal of a secret that opens a session now."""
        principal, jti, expires = self._claims(value)
        self.spend(jti, expires)
        return principal

    def spend(self, jti: str, expires: float) -> None:
        now = time.time()
        for seen in [j for j, until in self._spent.items() if until + LEEWAY_SECONDS < now]:
            del self._spent[seen]
        if jti in self._spent:
            raise Unauthenticated(
                "the client secret has been used (one realtime session per secret): "
                "ask for a new one",
                "invalid_token",
            )
        self._spent[jti] = expires

    def verify(self, value: str) -> Principal:
        return self._claims(value)[0]

    def _claims(self, value: str) -> tuple[Principal, str, float]:
        try:
            claims = jwt.decode(
                value.removeprefix(PREFIX),
                self._key,
                algorithms=["HS256"],
                audience=AUDIENCE,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "nbf", "sub", "aud", "jti"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the client secret has expired", "invalid_token") from None
        except jwt.InvalidTokenError:
            raise Unauthenticated("the client secret is not valid", "invalid_token") from None
        session = claims.get("ses")
        principal = Principal(
            str(claims["sub"]),
            admin=bool(claims.get("adm")),
            authenticated=not claims.get("anon"),
            client_session=session if isinstance(session, str) else "",
        )
        return principal, str(claims["jti"]), float(claims["exp"])
