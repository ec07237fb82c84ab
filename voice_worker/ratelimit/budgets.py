"""Which budget a request spends, as its route declares it where it is declared:
`openapi_extra=spends("speech")` in the route's decorator (so the API document says it
too, as `x-rate-limit-budget`). The rate-limit middleware runs before routing, so
`RouteBudgets` finds the route a request will reach the way the router does
(`route.matches`). A WebSocket handshake spends `realtime`; a request no route
declares (a 404, the models and voices lists), `other`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Match

from voice_worker.ratelimit.settings import RouteClass

BUDGET_KEY = "x-rate-limit-budget"


def spends(budget: RouteClass) -> dict[str, Any]:
    """A route's `openapi_extra`: each call to it spends one request of `budget`."""
    return {BUDGET_KEY: budget}


class RouteBudgets:
    """The budgets the app's routes declare, in the router's order."""

    def __init__(self, routes: Iterable[BaseRoute]) -> None:
        self.table: list[tuple[APIRoute, RouteClass]] = []
        for route in routes:
            if isinstance(route, APIRoute) and route.openapi_extra:
                budget = route.openapi_extra.get(BUDGET_KEY)
                if budget is not None:
                    self.table.append((route, cast(RouteClass, budget)))

    def of(self, scope: dict[str, Any]) -> RouteClass:
        if scope["type"] == "websocket":
            return "realtime"
        for route, budget in self.table:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return budget
        return "other"
