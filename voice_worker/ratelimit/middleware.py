"""Rate limits as a pure ASGI middleware, inside the authentication middleware (it
needs the principal): each HTTP request or WebSocket handshake spends one request of its
route class (as its route declares it: ratelimit.budgets); over the limit it is
answered 429 with Retry-After and the x-ratelimit-*-requests headers (on every answer
too), in OpenAI's error shape. A
WebSocket also holds one of its user's connection slots while it is open. The call runs
with a `Meter`, so the domain can charge what it costs (audio seconds, characters)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

from redis.exceptions import RedisError

from voice_worker.auth.middleware import is_open, refuse
from voice_worker.auth.principal import Principal
from voice_worker.errors import Busy
from voice_worker.ratelimit.budgets import RouteBudgets
from voice_worker.ratelimit.connections import LEASE_SECONDS
from voice_worker.ratelimit.limiter import RateLimiter
from voice_worker.ratelimit.meter import Meter, meter_var


def error_body(message: str, code: str, type_: str = "rate_limit_error") -> bytes:
    body = {"error": {"message": message, "type": type_, "param": None, "code": code}}
    return json.dumps(body).encode()


def client_address(scope: dict[str, Any], trust_forwarded_for: bool) -> str:
    if trust_forwarded_for:
        for name, value in scope.get("headers", ()):
            if name == b"x-forwarded-for":
                first = str(value.decode("latin-1")).split(",")[0].strip()
                if first:
                    return first
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def identity_of(scope: dict[str, Any], trust_forwarded_for: bool) -> str:
    """Whose budget: the user, or the client address for the anonymous caller."""
    principal = scope.get("state", {}).get("principal")
    if isinstance(principal, Principal) and principal.authenticated:
        return f"user:{principal.user}"
    return f"ip:{client_address(scope, trust_forwarded_for)}"


class RateLimitMiddleware:
    """`limiter`: the running worker's limiter (None: limits off, or not started yet);
    `budgets`: what each route spends."""

    def __init__(
        self,
        app: Any,
        limiter: Callable[[], RateLimiter | None],
        budgets: RouteBudgets,
        trust_forwarded_for: bool = False,
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.budgets = budgets
        self.trust_forwarded_for = trust_forwarded_for

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        limiter: RateLimiter | None = None
        if scope["type"] in ("http", "websocket") and not is_open(scope["path"]):
            limiter = self.limiter()
        if limiter is None:
            await self.app(scope, receive, send)
            return
        identity = identity_of(scope, self.trust_forwarded_for)
        route = self.budgets.of(scope)
        json_type = [(b"content-type", b"application/json")]
        try:
            decision = await limiter.hit_request(route, identity)
        except Busy as exc:  # the storage is down and the policy is deny
            body = error_body(exc.message, exc.code or "", "server_busy")
            await refuse(scope, receive, send, 503, [*json_type, (b"retry-after", b"1")], body)
            return
        headers = decision.headers() if decision is not None else []
        if decision is not None and not decision.allowed:
            message = (
                f"rate limit reached: {decision.limit} {route} requests a minute; "
                f"retry in {decision.retry_after} s"
            )
            retry = [(b"retry-after", str(decision.retry_after).encode())]
            body = error_body(message, "rate_limit_exceeded")
            await refuse(scope, receive, send, 429, [*json_type, *retry, *headers], body)
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *headers]
            await send(message)

        token = meter_var.set(Meter(limiter, identity))
        try:
            if scope["type"] == "websocket":
                await self._connection(limiter, identity, scope, receive, send)
            else:
                await self.app(scope, receive, send_with_headers)
        finally:
            meter_var.reset(token)

    async def _connection(
        self, limiter: RateLimiter, identity: str, scope: Any, receive: Any, send: Any
    ) -> None:
        """The WebSocket holds one of `identity`'s connection slots while it is open."""
        limit = limiter.settings.realtime_connections
        slot = await self._acquire(limiter, identity, limit) if limit > 0 else None
        if limit > 0 and slot is None:
            limiter.refused("connections")
            message = f"{limit} realtime connections are open for this user already"
            body = error_body(message, "rate_limit_exceeded")
            headers = [(b"content-type", b"application/json"), (b"retry-after", b"1")]
            await refuse(scope, receive, send, 429, headers, body)
            return
        renewing = asyncio.create_task(self._renew(limiter, identity, slot)) if slot else None
        try:
            await self.app(scope, receive, send)
        finally:
            if renewing is not None and slot is not None:
                renewing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await renewing
                with contextlib.suppress(RedisError, OSError):
                    await limiter.slots.release(identity, slot)

    @staticmethod
    async def _acquire(limiter: RateLimiter, identity: str, limit: int) -> str | None:
        try:
            return await limiter.slots.acquire(identity, limit)
        except (RedisError, OSError) as exc:  # the storage is down: the configured choice
            limiter.storage_failed(exc)
            if limiter.settings.on_storage_error == "deny":
                return None
            limiter.counters.unchecked += 1
            return ""  # let through, holding no slot

    @staticmethod
    async def _renew(limiter: RateLimiter, identity: str, slot: str) -> None:
        while True:
            await asyncio.sleep(LEASE_SECONDS / 3)
            try:
                await limiter.slots.renew(identity, slot)
            except (RedisError, OSError) as exc:
                limiter.storage_failed(exc)
