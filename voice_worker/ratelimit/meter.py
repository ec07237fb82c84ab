"""The budget of the request in progress: the rate-limit middleware sets a `Meter` (the
limiter and the caller's identity) for the call, and the domain charges what it learns
a request costs where it learns it (`charge`: e.g. the Transcriber, once the audio's
length is known, before any model runs). A contextvar, as the request ID is, so the
domain stays transport-free and a call without a meter (limits off, a transport without
them) is charged nothing."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass

from voice_worker.errors import RateLimited
from voice_worker.ratelimit.limiter import RateLimiter, Resource
from voice_worker.ratelimit.settings import RouteClass


@dataclass(frozen=True)
class Meter:
    limiter: RateLimiter
    identity: str


meter_var: contextvars.ContextVar[Meter | None] = contextvars.ContextVar("meter", default=None)


async def charge(resource: Resource, amount: float) -> None:
    """Spend `amount` of the current caller's `resource`; RateLimited when it does not fit."""
    meter = meter_var.get()
    if meter is not None:
        await meter.limiter.charge(resource, meter.identity, amount)


async def spend_request(route: RouteClass) -> None:
    """One more request of `route` for the current caller, for a transport whose one
    connection carries many requests (the realtime WebSocket: a turn per
    `response.create`); RateLimited when the budget is spent."""
    meter = meter_var.get()
    if meter is None:
        return
    decision = await meter.limiter.hit_request(route, meter.identity)
    if decision is not None and not decision.allowed:
        raise RateLimited(
            f"rate limit reached: {decision.limit} {route} requests a minute",
            code="rate_limit_exceeded",
            retry_after=decision.retry_after,
        )
