"""Which budget a request spends: its route class, from the method and path."""

from __future__ import annotations

from voice_worker.ratelimit.settings import RouteClass

_PREFIXES: list[tuple[str, RouteClass]] = [
    ("/v1/audio/speech", "speech"),
    ("/api/voice/tts", "speech"),
    ("/v1/audio/transcriptions", "transcription"),
    ("/api/voice/stt", "transcription"),
    ("/v1/realtime", "realtime"),
    ("/api/voice/sessions", "sessions"),
]


def route_class(scope_type: str, method: str, path: str) -> RouteClass:
    if scope_type == "websocket":
        return "realtime"
    turn = path.endswith("/messages") or path.endswith("/text")
    if method == "POST" and path.startswith("/api/voice/sessions/") and turn:
        return "turns"
    for prefix, route in _PREFIXES:
        if path == prefix or path.startswith(prefix + "/"):
            return route
    return "other"
