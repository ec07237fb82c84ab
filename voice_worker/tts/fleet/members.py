"""One model server as the fleet sees it: a channel, its health (a gRPC health Watch
stream, so a server that starts draining is seen at once), its models (ListModels:
which are loaded, which it can load, requests in flight), read every
`refresh_seconds` and at once after a failure, and this worker's own calls to it."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections import Counter
from collections.abc import Iterator

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from voice_contract.channels import ChannelSecurity, open_channel
from voice_contract.v1 import tts_pb2 as pb
from voice_contract.v1 import tts_pb2_grpc
from voice_contract.wire import SERVICE_NAME, channel_options
from voice_worker.tts.fleet.routing import ServerView

log = logging.getLogger(__name__)

_RESIDENT = (pb.MODEL_STATE_LOADED, pb.MODEL_STATE_LOADING)
_SERVING = health_pb2.HealthCheckResponse.SERVING


class Health(enum.Enum):
    UNKNOWN = "unknown"  # no answer yet, or the Watch stream broke
    SERVING = "serving"
    NOT_SERVING = "not_serving"  # draining (SIGTERM) or starting up


def member_channel_options(refresh_seconds: float) -> list[tuple[str, int | str]]:
    """The contract's options without gRPC's retry policy (the fleet fails over to
    another server instead), and reconnect attempts at least once a refresh interval, so
    a server that comes back is seen soon (gRPC's own backoff grows to 2 minutes)."""
    backoff_ms = max(100, int(refresh_seconds * 1000))
    return [
        *channel_options(0),
        ("grpc.initial_reconnect_backoff_ms", min(backoff_ms, 250)),
        ("grpc.max_reconnect_backoff_ms", backoff_ms),
    ]


def _health_of(reply: health_pb2.HealthCheckResponse) -> Health:
    return Health.SERVING if reply.status == _SERVING else Health.NOT_SERVING


class Member:
    def __init__(
        self,
        address: str,
        refresh_seconds: float,
        list_timeout: float,
        security: ChannelSecurity | None = None,
    ) -> None:
        self.address = address
        self.refresh_seconds = refresh_seconds
        self.list_timeout = list_timeout
        self.channel = open_channel(address, member_channel_options(refresh_seconds), security)
        self.stub = tts_pb2_grpc.TextToSpeechStub(self.channel)
        self._health = health_pb2_grpc.HealthStub(self.channel)
        self._health_request = health_pb2.HealthCheckRequest(service=SERVICE_NAME)
        self.health = Health.UNKNOWN
        self.reachable = False  # the last ListModels answered, and no call failed since
        self.detail = "not contacted yet"
        self.models: dict[str, pb.ModelInfo] = {}  # from the last ListModels that answered
        self.draining = False  # gone from discovery: no new calls, in-flight ones finish
        self.first_listing = asyncio.Event()  # the first refresh answered (health too) or failed
        self.in_flight = 0  # this worker's calls to it now
        self.last_chosen = 0
        self._by_model: Counter[str] = Counter()
        self._sent: dict[str, float] = {}  # model -> when a call for it last started or ended
        self._others = 0  # other callers' requests in flight at the last listing
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    # -- what routing sees ----------------------------------------------------------
    @property
    def eligible(self) -> bool:
        return self.health is Health.SERVING and self.reachable and not self.draining

    @property
    def default_model(self) -> str:
        return next((m.name for m in self.models.values() if m.is_default), "")

    def view(self) -> ServerView:
        recent = time.monotonic() - 2 * self.refresh_seconds
        loaded = {name for name, m in self.models.items() if m.state in _RESIDENT}
        loaded |= {name for name, n in self._by_model.items() if n > 0}
        loaded |= {name for name, at in self._sent.items() if at >= recent}
        return ServerView(
            address=self.address,
            serving=self.eligible,
            models=frozenset(self.models),
            loaded=frozenset(loaded),
            in_flight=self._others + self.in_flight,
            last_chosen=self.last_chosen,
        )

    def state(self) -> str:
        """One line for /readyz and logs."""
        if self.draining:
            return "draining"
        if self.health is Health.NOT_SERVING:
            return "NOT_SERVING"
        if not self.reachable or self.health is Health.UNKNOWN:
            return f"unreachable ({self.detail})"
        return f"serving ({self._others + self.in_flight} in flight)"

    # -- this worker's calls --------------------------------------------------------
    @contextlib.contextmanager
    def lease(self, model: str, sequence: int) -> Iterator[None]:
        """Count a call to this server for `model` while the block runs."""
        self.in_flight += 1
        self._by_model[model] += 1
        self._sent[model] = time.monotonic()
        self.last_chosen = sequence
        try:
            yield
        finally:
            self.in_flight -= 1
            self._by_model[model] -= 1
            self._sent[model] = time.monotonic()

    def note_failure(self, detail: str) -> None:
        """A call found the server unavailable: no new calls until it answers again."""
        if self.reachable:
            log.warning("model server failed", extra={"server": self.address, "error": detail})
        self.reachable = False
        self.detail = detail
        self._wake.set()

    # -- keeping the view fresh -----------------------------------------------------
    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._watch_health()),
            asyncio.create_task(self._refresh_loop()),
        ]

    async def refresh(self) -> None:
        """Read the server's models and in-flight counts now."""
        own_before = self.in_flight
        try:
            reply = await self.stub.ListModels(pb.ListModelsRequest(), timeout=self.list_timeout)
        except grpc.aio.AioRpcError as exc:
            if self.reachable:
                log.warning(
                    "model server unreachable",
                    extra={"server": self.address, "error": exc.code().name},
                )
            self.reachable = False
            self.detail = f"{exc.code().name}: {exc.details()}"
            return
        self.models = {m.name: m for m in reply.models}
        total = sum(m.in_flight for m in reply.models)
        self._others = max(0, total - max(own_before, self.in_flight))
        if self.health is Health.UNKNOWN:  # the Watch has not said yet: ask once
            try:
                check = await self._health.Check(self._health_request, timeout=self.list_timeout)
            except grpc.aio.AioRpcError as exc:
                if exc.code() is not grpc.StatusCode.UNIMPLEMENTED:
                    self.reachable, self.detail = False, f"health: {exc.code().name}"
                    return
                check = health_pb2.HealthCheckResponse(status=_SERVING)
            self._set_health(_health_of(check))
        if not self.reachable:
            log.info("model server reachable", extra={"server": self.address})
        self.reachable, self.detail = True, "ok"

    async def _refresh_loop(self) -> None:
        while True:
            await self.refresh()
            self.first_listing.set()
            # asyncio.wait, not wait_for: wait_for (3.10, 3.11) swallows a cancellation
            # that arrives as the wake-up does, and close() would wait forever
            woken = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait({woken}, timeout=self.refresh_seconds)
            finally:
                woken.cancel()
            self._wake.clear()

    async def _watch_health(self) -> None:
        """SERVING / NOT_SERVING as the server announces it (a Watch stream). While the
        server is not serving, its health is polled instead: an open Watch stream is a
        call in flight, and would keep a draining server waiting until its grace ends."""
        request = self._health_request
        while True:
            try:
                if self.health is Health.NOT_SERVING:
                    reply = await self._health.Check(request, timeout=self.list_timeout)
                    self._set_health(_health_of(reply))
                else:
                    if await self._follow(request) is Health.NOT_SERVING:
                        continue  # poll from now on
            except grpc.aio.AioRpcError as exc:
                if exc.code() is grpc.StatusCode.UNIMPLEMENTED:
                    self._set_health(Health.SERVING)  # no health service: ListModels decides
                    return
                self._set_health(Health.UNKNOWN)
            await asyncio.sleep(self.refresh_seconds)

    async def _follow(self, request: health_pb2.HealthCheckRequest) -> Health:
        """Follow the Watch stream until it ends or says NOT_SERVING; the last health."""
        # wait_for_ready: the stream opens when the server is (back) up
        call = self._health.Watch(request, wait_for_ready=True)
        try:
            async for reply in call:
                health = _health_of(reply)
                self._set_health(health)
                if health is Health.NOT_SERVING:
                    return health
        finally:
            call.cancel()
        self._set_health(Health.UNKNOWN)
        return Health.UNKNOWN

    def _set_health(self, health: Health) -> None:
        if health is not self.health:
            log.info("model server health", extra={"server": self.address, "health": health.value})
            self.health = health
            self._wake.set()  # read its models again now

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.channel.close(grace=None)
