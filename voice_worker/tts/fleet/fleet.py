"""`Fleet`: the model servers one worker routes to, and the one way to call them.

`route(model)` names the model a request is for (the fleet's default for ""), or
raises: unknown everywhere -> InvalidRequest (param `model`, code `model_not_found`,
naming every model the fleet has); known but no server can take it now ->
UpstreamUnavailable. `call(model, start)` is the failover wrapper any call kind uses
(unary, server streaming, bidirectional): `start(member)` opens the call on that
member's stub and returns once the first message is in. UNAVAILABLE or
RESOURCE_EXHAUSTED before then moves the call to the next candidate, at most
`max_retries` times; after it (the block's body is consuming audio), a failure is
raised, never retried.

    async with fleet.call(model, open_stream) as (call, first):
        ...  # first message in hand; the member's in-flight count is held here
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import grpc

from voice_contract.channels import ChannelSecurity
from voice_worker.errors import InvalidRequest, UpstreamUnavailable, VoiceError
from voice_worker.tts.fleet.discovery import Discovery
from voice_worker.tts.fleet.members import Member
from voice_worker.tts.fleet.routing import default_model, fleet_models, rank
from voice_worker.tts.model_server import NAME, map_error

log = logging.getLogger(__name__)

T = TypeVar("T")
FAILOVER_CODES = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED)
MAX_BACKOFF_SECONDS = 2.0


class Fleet:
    def __init__(
        self,
        discovery: Discovery,
        *,
        refresh_seconds: float = 1.0,
        resolve_seconds: float = 5.0,
        list_timeout: float = 2.0,
        max_retries: int = 2,
        spread_in_flight: int = 0,
        default: str = "",
        security: ChannelSecurity | None = None,
    ) -> None:
        self.discovery = discovery
        self.security = security
        self.refresh_seconds = refresh_seconds
        self.resolve_seconds = resolve_seconds
        self.list_timeout = list_timeout
        self.max_retries = max_retries
        self.spread_in_flight = spread_in_flight
        self.default = default  # "" : the model most servers call their default
        self.members: dict[str, Member] = {}
        self.failovers = 0  # calls moved to another server before their first message
        self._retired: list[Member] = []
        self._sequence = itertools.count(1)
        self._started: asyncio.Future[None] | None = None
        self._resolving: asyncio.Task[None] | None = None

    # -- the set of servers -----------------------------------------------------------
    async def start(self) -> None:
        """Discover the servers and start watching them (once; later calls wait for it)."""
        if self._started is None:
            self._started = asyncio.ensure_future(self.update())
            if self.discovery.resolves_names and self.resolve_seconds > 0:
                self._resolving = asyncio.create_task(self._resolve_loop())
        await asyncio.shield(self._started)

    async def update(self) -> None:
        """Follow discovery: new addresses become members, gone ones drain."""
        addresses = await self.discovery.addresses()
        for address in sorted(addresses - set(self.members)):
            member = Member(address, self.refresh_seconds, self.list_timeout, self.security)
            member.start()
            self.members[address] = member
            log.info("model server added", extra={"server": address})
        for address in sorted(set(self.members) - addresses):
            member = self.members.pop(address)
            member.draining = True
            self._retired.append(member)
            log.info("model server removed", extra={"server": address})
        for member in [m for m in self._retired if m.in_flight == 0]:
            self._retired.remove(member)
            await member.close()

    async def _resolve_loop(self) -> None:
        while True:
            await asyncio.sleep(self.resolve_seconds)
            try:
                await self.update()
            except Exception:  # a bug here must not end discovery for good
                log.exception("model server discovery failed")

    async def ready(self, timeout: float | None = None) -> None:
        """Started, and every server has answered (or failed) its first listing, or
        `timeout` (default: the listing timeout) has passed."""
        await self.start()
        new = [m.first_listing for m in self.members.values() if not m.first_listing.is_set()]
        if new:
            tasks = [asyncio.ensure_future(event.wait()) for event in new]
            _, pending = await asyncio.wait(tasks, timeout=timeout or self.list_timeout)
            for task in pending:
                task.cancel()

    def listed(self) -> list[Member]:
        """Members that have answered ListModels at least once (their last view kept)."""
        return [m for m in self.members.values() if m.models]

    def serving(self) -> list[Member]:
        return [m for m in self.members.values() if m.eligible]

    def summary(self) -> str:
        return "; ".join(f"{a} {m.state()}" for a, m in sorted(self.members.items())) or "none"

    # -- routing ------------------------------------------------------------------------
    def default_model(self) -> str:
        if self.default:
            return self.default
        serving = self.serving() or self.listed()
        return default_model(m.default_model for m in serving)

    async def route(self, model: str) -> str:
        """The model a request for `model` is served by ("" is the fleet's default);
        raises when no server knows it."""
        await self.ready()
        name = model or self.default_model()
        known = fleet_models([m.view() for m in self.listed()])
        if not known:
            raise UpstreamUnavailable(
                NAME, f"unavailable (no model server answered: {self.summary()})",
                code="upstream_unavailable", retry_after=1,
            )  # fmt: skip
        if name not in known:
            raise InvalidRequest(
                f"unknown model {name!r}; available models: {', '.join(known)}",
                param="model",
                code="model_not_found",
            )
        return name

    def candidates(self, model: str) -> list[Member]:
        """The members that may take a call for `model`, best first."""
        views = [m.view() for m in self.members.values()]
        return [self.members[v.address] for v in rank(model, views, self.spread_in_flight)]

    def _none_can_serve(self, model: str) -> VoiceError:
        return UpstreamUnavailable(
            NAME,
            f"unavailable (no model server can serve {model!r} now: {self.summary()})",
            code="upstream_unavailable",
            retry_after=1,
        )

    # -- calls ----------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def call(self, model: str, start: Callable[[Member], Awaitable[T]]) -> AsyncIterator[T]:
        """`start(member)`'s result on the best server that answers (see the module)."""
        tried: set[str] = set()
        failures = 0
        last: grpc.aio.AioRpcError | None = None
        while True:
            member = next((m for m in self.candidates(model) if m.address not in tried), None)
            if member is None:
                if last is None:
                    raise self._none_can_serve(model)
                if not self.candidates(model):
                    raise map_error(last)
                # every candidate is busy: wait a little and go round again
                await asyncio.sleep(min(0.1 * 2 ** (failures - 1), MAX_BACKOFF_SECONDS))
                tried.clear()
                continue
            tried.add(member.address)
            with member.lease(model, next(self._sequence)):
                try:
                    first = await start(member)
                except grpc.aio.AioRpcError as exc:
                    if exc.code() not in FAILOVER_CODES:
                        raise map_error(exc) from None
                    if exc.code() is grpc.StatusCode.UNAVAILABLE:
                        member.note_failure(f"UNAVAILABLE: {exc.details()}")
                    failures, last = failures + 1, exc
                    if failures > self.max_retries:
                        raise map_error(exc) from None
                    self.failovers += 1
                    log.warning(
                        "model server call failed over",
                        extra={"server": member.address, "code": exc.code().name, "model": model},
                    )
                    continue
                try:
                    yield first
                except grpc.aio.AioRpcError as exc:
                    raise self._failed_midway(member, exc) from None
                return

    @staticmethod
    def _failed_midway(member: Member, exc: grpc.aio.AioRpcError) -> VoiceError:
        """A failure after the first message: not retried (the caller has audio)."""
        if exc.code() is not grpc.StatusCode.UNAVAILABLE:
            return map_error(exc)
        member.note_failure(f"UNAVAILABLE: {exc.details()}")
        return UpstreamUnavailable(
            NAME,
            f"{member.address} went away after the audio had started "
            f"(UNAVAILABLE: {exc.details()}); not retried",
            code="upstream_unavailable",
            retry_after=1,
        )

    async def close(self) -> None:
        if self._resolving is not None:
            self._resolving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._resolving
        for member in [*self.members.values(), *self._retired]:
            await member.close()
        self.members.clear()
        self._retired.clear()
