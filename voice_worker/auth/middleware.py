"""Authentication as a pure ASGI middleware, for HTTP requests and WebSocket handshakes
alike: every path but the open ones (probes, metrics, the API docs) needs credentials;
the principal goes into the scope's state (`deps.principal` reads it). Refused: HTTP 401
in OpenAI's error shape with `WWW-Authenticate` (RFC 6750); a WebSocket handshake is
answered 401 the same way (or closed with 1008 where the server cannot send a response).
Credentials are never logged, echoed or kept."""

from __future__ import annotations

import json
from typing import Any

from voice_worker.auth.authenticator import Authenticator, Credentials
from voice_worker.auth.errors import Unauthenticated

#: paths anyone may call: probes, metrics and counters, the API's own description, the
#: browser console's static page (it sends the key it is given on every call it makes)
OPEN_PATHS = frozenset(
    {"/", "/healthz", "/readyz", "/metrics", "/debug/counters", "/docs", "/openapi.json"}
)
OPEN_PREFIXES = ("/docs/", "/console/")
#: HTTP requests that open a realtime session, as a WebSocket handshake does: a client
#: secret is accepted there too (a WebRTC call's offer, from a browser)
SESSION_OPENERS = frozenset({("POST", "/v1/realtime/calls")})
REALM = "voice-engine"


def is_open(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


def credentials_of(scope: dict[str, Any]) -> Credentials:
    found = {b"authorization": "", b"x-api-key": "", b"sec-websocket-protocol": ""}
    for name, value in scope.get("headers", ()):
        if name in found:
            found[name] = value.decode("latin-1")
    return Credentials.of(
        found[b"authorization"],
        found[b"x-api-key"],
        found[b"sec-websocket-protocol"],
        websocket=scope["type"] == "websocket"
        or (scope.get("method", ""), scope["path"]) in SESSION_OPENERS,
    )


def unauthorized(exc: Unauthenticated) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """(status, headers, body) of the refusal."""
    challenge = f'Bearer realm="{REALM}"'
    if exc.presented:
        description = exc.message.replace('"', "'")
        challenge += f', error="invalid_token", error_description="{description}"'
    body = {
        "error": {
            "message": exc.message,
            "type": "invalid_request_error",
            "param": None,
            "code": exc.code,
        }
    }
    headers = [
        (b"content-type", b"application/json"),
        (b"www-authenticate", challenge.encode("latin-1", "replace")),
    ]
    return 401, headers, json.dumps(body).encode()


async def refuse(
    scope: dict[str, Any],
    receive: Any,
    send: Any,
    status: int,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
) -> None:
    """Answer an HTTP request or a WebSocket handshake with `status` and `body`."""
    if scope["type"] == "http":
        headers = [*headers, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return
    await receive()  # websocket.connect
    if "websocket.http.response" in scope.get("extensions", {}):
        await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        await send({"type": "websocket.close", "code": 1008})


class AuthMiddleware:
    def __init__(self, app: Any, authenticator: Authenticator) -> None:
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket") or is_open(scope["path"]):
            await self.app(scope, receive, send)
            return
        try:
            principal = self.authenticator.authenticate(credentials_of(scope))
        except Unauthenticated as exc:
            await refuse(scope, receive, send, *unauthorized(exc))
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)
