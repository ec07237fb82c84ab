"""The budget of the request in progress: the rate-limit middleware sets a `Meter` (the
limiter and the caller's identity) for the call, and the domain charges what it learns
a request costs where it learns it (`charge`: e.g. the Transcriber, once the audio's
length is known, before any model runs). A contextvar, as the request ID is, so the
domain stays transport-free and a call without a meter (limits off, a transport without
them) is charged nothing."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass

from voice_worker.ratelimit.limiter import RateLimiter, Resource


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
