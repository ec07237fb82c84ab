"""Request IDs and access logs, as a plain ASGI middleware (no per-request task or
body copy, unlike BaseHTTPMiddleware): takes `x-request-id` from the client or makes
one, sets it for the JSON logs of the call, returns it on the response."""

from __future__ import annotations

import logging
import time
from typing import Any

from shared.logs import new_request_id, request_id_var

log = logging.getLogger("voice_worker.access")
_HEADER = b"x-request-id"
_QUIET = frozenset({"/healthz", "/readyz", "/metrics", "/debug/counters"})


class RequestIdMiddleware:
    def __init__(self, app: Any, access_log: bool = True) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = ""
        for name, value in scope["headers"]:
            if name == _HEADER:
                request_id = value.decode("latin-1")[:128]
                break
        request_id = request_id or new_request_id()
        # Also in the scope's state: an unexpected error is answered by Starlette's
        # outermost middleware, after this one has unwound (http/errors.py reads it).
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        start = time.perf_counter()
        status = 0

        async def send_with_id(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", ()),
                    (_HEADER, request_id.encode("latin-1")),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if self.access_log and scope["path"] not in _QUIET:
                log.info(
                    "request",
                    extra={
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "ms": round((time.perf_counter() - start) * 1000, 2),
                    },
                )
            request_id_var.reset(token)
