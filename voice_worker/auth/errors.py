"""Why a request is not authenticated: a message for the client (never the credential
itself) and a code. Transports render it: HTTP 401 with WWW-Authenticate, a WebSocket
handshake refused with 401."""

from __future__ import annotations


class Unauthenticated(Exception):
    def __init__(self, message: str, code: str = "invalid_api_key") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        #: a credential was presented (RFC 6750: `error="invalid_token"`)
        self.presented = code != "missing_credentials"


def missing() -> Unauthenticated:
    return Unauthenticated(
        "no credentials: send `Authorization: Bearer <key or token>` (or `X-API-Key`)",
        "missing_credentials",
    )
