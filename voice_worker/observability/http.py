"""`MetricsMiddleware`: every HTTP request counted by method, route template and
status, its latency (to the last byte of the response, streams included) in a
histogram. A plain ASGI middleware, like the request-ID one. The route is the
template FastAPI matched (`/api/voice/sessions/{session_id}/text`), `unmatched` when
none did, so a client cannot grow the label set by inventing paths."""

from __future__ import annotations

import time
from typing import Any

from voice_worker.observability import metrics

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_of(scope: dict[str, Any]) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


class MetricsMiddleware:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # what the server answers when the app fails before responding

        async def send_status(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        metrics.HTTP_IN_PROGRESS.inc()
        try:
            await self.app(scope, receive, send_status)
        finally:
            metrics.HTTP_IN_PROGRESS.dec()
            method = scope["method"] if scope["method"] in METHODS else "other"
            route = route_of(scope)
            metrics.HTTP_REQUESTS.labels(method, route, str(status)).inc()
            metrics.HTTP_DURATION.labels(method, route).observe(time.perf_counter() - start)
            metrics.sample_memory()
