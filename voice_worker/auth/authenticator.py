"""`Authenticator`: the credentials of a request -> its `Principal`, or Unauthenticated.
Transport-free: the HTTP middleware, a WebSocket handshake and any other transport hand
it the same `Credentials`.

- mode none: everyone is the anonymous principal (credentials are ignored).
- mode api_key: `Authorization: Bearer <key>` (what the openai SDK sends) or `X-API-Key`.
- mode jwt: `Authorization: Bearer <JWT>`.
- every mode: a client secret (`ek_...`, POST /v1/realtime/client_secrets) where a
  realtime session opens only: a WebSocket handshake (as a Bearer header or, from a
  browser that cannot set headers, the `openai-insecure-api-key.<secret>` subprotocol,
  as OpenAI's browser clients send it) or a WebRTC call's offer (`POST
  /v1/realtime/calls`, as a Bearer header); once (a used one is refused)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from voice_worker.auth.api_keys import ApiKeys
from voice_worker.auth.client_secrets import PREFIX as CLIENT_SECRET_PREFIX
from voice_worker.auth.client_secrets import ClientSecrets
from voice_worker.auth.errors import Unauthenticated, missing
from voice_worker.auth.jwt_tokens import JwtVerifier
from voice_worker.auth.principal import ANONYMOUS, Principal
from voice_worker.auth.settings import AuthSettings

log = logging.getLogger(__name__)
SUBPROTOCOL_PREFIX = "openai-insecure-api-key."


@dataclass(frozen=True)
class Credentials:
    bearer: str = ""  # Authorization: Bearer <this>
    api_key: str = ""  # X-API-Key
    subprotocol_secret: str = ""  # Sec-WebSocket-Protocol: openai-insecure-api-key.<this>
    #: the request opens a realtime session (a WebSocket handshake, a call's offer)
    websocket: bool = False

    @classmethod
    def of(
        cls, authorization: str, api_key: str, subprotocols: str = "", websocket: bool = False
    ) -> Credentials:
        scheme, _, value = authorization.strip().partition(" ")
        bearer = value.strip() if scheme.lower() == "bearer" else ""
        secret = ""
        for item in subprotocols.split(","):
            if item.strip().startswith(SUBPROTOCOL_PREFIX):
                secret = item.strip().removeprefix(SUBPROTOCOL_PREFIX)
        return cls(bearer, api_key.strip(), secret, websocket)


class Authenticator:
    def __init__(self, settings: AuthSettings) -> None:
        self.mode = settings.mode
        admins = frozenset(settings.admin_users)
        self.api_keys = ApiKeys(settings.api_keys, admins) if settings.mode == "api_key" else None
        self.jwt = JwtVerifier(settings) if settings.mode == "jwt" else None
        self.client_secrets = ClientSecrets(
            settings.client_secret_key.get_secret_value(), settings.client_secret_seconds
        )

    def authenticate(self, credentials: Credentials) -> Principal:
        secret = credentials.subprotocol_secret or (
            credentials.bearer if credentials.bearer.startswith(CLIENT_SECRET_PREFIX) else ""
        )
        if secret:
            if not credentials.websocket:
                raise Unauthenticated(
                    "a client secret opens a realtime session only (the WebSocket or "
                    "POST /v1/realtime/calls); use a key or a token",
                    "invalid_token",
                )
            return self.client_secrets.open_session(secret)
        if self.mode == "none":
            return ANONYMOUS
        if self.api_keys is not None:
            key = credentials.bearer or credentials.api_key
            if not key:
                raise missing()
            found = self.api_keys.verify(key)
            if found is None:
                raise Unauthenticated("the API key is not valid", "invalid_api_key")
            return found
        assert self.jwt is not None
        if not credentials.bearer:
            raise missing()
        return self.jwt.verify(credentials.bearer)
