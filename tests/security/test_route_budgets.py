"""Each route declares the budget it spends (`openapi_extra=spends(...)`), and the
rate-limit middleware finds it before routing, as the router would: the worker's own
routers, read as the app reads them."""

from __future__ import annotations

import pytest

from voice_worker.app import ROUTERS
from voice_worker.ratelimit.budgets import BUDGET_KEY, RouteBudgets
from voice_worker.ratelimit.settings import RouteClass

BUDGETS = RouteBudgets(route for router in ROUTERS for route in router.routes)


def scope(method: str, path: str, kind: str = "http") -> dict[str, object]:
    return {"type": kind, "method": method, "path": path, "root_path": "", "headers": []}


@pytest.mark.parametrize(
    ("method", "path", "budget"),
    [
        ("POST", "/v1/audio/speech", "speech"),
        ("POST", "/api/voice/tts", "speech"),
        ("POST", "/v1/audio/transcriptions", "transcription"),
        ("POST", "/api/voice/stt", "transcription"),
        ("POST", "/api/voice/sessions", "sessions"),
        ("GET", "/api/voice/sessions", "sessions"),
        ("DELETE", "/api/voice/sessions/abc", "sessions"),
        ("GET", "/api/voice/sessions/abc/messages", "sessions"),  # the history
        ("POST", "/api/voice/sessions/abc/messages", "turns"),  # a spoken turn
        ("POST", "/api/voice/sessions/abc/text", "turns"),
        ("POST", "/v1/realtime/client_secrets", "realtime"),
        ("POST", "/v1/realtime/calls", "realtime"),
        ("DELETE", "/v1/realtime/calls/rtc_1", "realtime"),
        ("GET", "/v1/models", "other"),
        ("GET", "/v1/audio/voices", "other"),
        ("GET", "/no/such/path", "other"),
        ("GET", "/v1/audio/speech", "other"),  # no such route: a 405, not a synthesis
    ],
)
def test_a_request_spends_what_its_route_declares(
    method: str, path: str, budget: RouteClass
) -> None:
    assert BUDGETS.of(scope(method, path)) == budget


def test_a_websocket_handshake_spends_realtime() -> None:
    assert BUDGETS.of(scope("GET", "/v1/realtime", "websocket")) == "realtime"


def test_the_document_shows_each_declared_budget() -> None:
    declared = {route.path for route, _ in BUDGETS.table}
    assert "/v1/audio/speech" in declared and "/api/voice/sessions/{session_id}/text" in declared
    for route, budget in BUDGETS.table:  # beside what else a route documents (a raw body)
        extra = route.openapi_extra or {}
        assert extra[BUDGET_KEY] == budget
        assert set(extra) <= {BUDGET_KEY, "requestBody"}
