"""Which models are resident: load on first use, evict the least recently used idle
model past `max_loaded_models` or the memory budget, unload after a keep-alive.

Invariants (tests/model_server/test_registry.py):
- a model with requests in flight is never evicted or unloaded (like speaches' model
  manager); if every loaded model is busy the registry goes over its limit for a while
  and evicts as soon as one is released;
- concurrent first requests load a model once (one load task, everyone awaits it);
- loads and unloads run on a thread, never blocking the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field

from model_server import metrics
from model_server.backends.base import TTSBackend
from model_server.errors import BackendError, ModelBusyError, NotFoundError, SpeechError
from voice_contract.reasons import Reason

log = logging.getLogger(__name__)


class ModelNotFoundError(NotFoundError):
    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(
            f"unknown model {name!r}; available models: {', '.join(sorted(known))}",
            reason=Reason.MODEL_NOT_FOUND,
            field="model",
        )


class State(enum.Enum):
    UNLOADED = "unloaded"
    LOADING = "loading"
    LOADED = "loaded"


@dataclass
class ModelEntry:
    name: str
    backend_name: str
    backend: TTSBackend
    state: State = State.UNLOADED
    in_flight: int = 0
    last_used: float = 0.0  # time.time() of the last acquire or release
    load_seconds: float = 0.0
    memory_bytes: int = 0
    loading: asyncio.Task[None] | None = field(default=None, repr=False)


class ModelRegistry:
    """Holds every configured model (loaded or not) by name."""

    def __init__(
        self,
        backends: Mapping[str, tuple[str, TTSBackend]],
        max_loaded: int = 3,
        memory_budget_bytes: int = 0,
        keep_alive_seconds: float = 0.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._entries = {
            name: ModelEntry(name, kind, backend) for name, (kind, backend) in backends.items()
        }
        self.max_loaded = max_loaded
        self.memory_budget_bytes = memory_budget_bytes
        self.keep_alive_seconds = keep_alive_seconds
        self._clock = clock
        self._lock = asyncio.Lock()
        self._reaper: asyncio.Task[None] | None = None

    # -- queries ---------------------------------------------------------------
    def entries(self) -> list[ModelEntry]:
        return list(self._entries.values())

    def entry(self, name: str) -> ModelEntry:
        try:
            return self._entries[name]
        except KeyError:
            raise ModelNotFoundError(name, list(self._entries)) from None

    def loaded_names(self) -> list[str]:
        return [e.name for e in self._entries.values() if e.state is State.LOADED]

    # -- use -------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def lease(self, name: str) -> AsyncIterator[TTSBackend]:
        """Hold a loaded model for the duration of the block (loading it if needed)."""
        entry = self.entry(name)
        entry.in_flight += 1  # counted before the load, so eviction can't pick it
        try:
            await self._ensure_loaded(entry)
            entry.last_used = self._clock()
            yield entry.backend
        finally:
            entry.in_flight -= 1
            entry.last_used = self._clock()
            if entry.in_flight == 0:
                await self._enforce_limits()

    async def load(self, name: str) -> ModelEntry:
        entry = self.entry(name)
        async with self.lease(name):
            pass
        return entry

    async def unload(self, name: str) -> ModelEntry:
        entry = self.entry(name)
        async with self._lock:
            if entry.in_flight:
                raise ModelBusyError(
                    f"model {name!r} has {entry.in_flight} request(s) in flight; retry when idle",
                    field="name",
                )
            await self._unload_locked(entry, reason="requested")
        return entry

    # -- loading and eviction ----------------------------------------------------
    async def _ensure_loaded(self, entry: ModelEntry) -> None:
        if entry.state is State.LOADED:
            return
        async with self._lock:
            if entry.state is State.UNLOADED:
                entry.state = State.LOADING
                await self._evict_locked()  # make room first: never two big models at once
                entry.loading = asyncio.create_task(self._load(entry))
            task = entry.loading
        assert task is not None
        # shield: a cancelled request must not cancel the load others are waiting for
        await asyncio.shield(task)

    async def _load(self, entry: ModelEntry) -> None:
        start = time.perf_counter()
        try:
            await asyncio.to_thread(entry.backend.load)
        except SpeechError:
            entry.state = State.UNLOADED
            log.exception("model load failed", extra={"model": entry.name})
            raise
        except Exception as exc:
            entry.state = State.UNLOADED
            log.exception("model load failed", extra={"model": entry.name})
            raise BackendError(f"model {entry.name!r} failed to load (see the server log)") from exc
        except BaseException:
            entry.state = State.UNLOADED
            raise
        entry.load_seconds = time.perf_counter() - start
        entry.memory_bytes = entry.backend.memory_bytes()
        entry.state = State.LOADED
        entry.last_used = self._clock()
        log.info(
            "model loaded",
            extra={
                "model": entry.name,
                "backend": entry.backend_name,
                "load_seconds": round(entry.load_seconds, 3),
                "memory_mb": round(entry.memory_bytes / 2**20, 1),
            },
        )
        await self._enforce_limits()

    def _over_limits(self) -> bool:
        resident = [e for e in self._entries.values() if e.state is not State.UNLOADED]
        over_count = len(resident) > self.max_loaded
        total = sum(e.memory_bytes for e in resident)
        over_memory = bool(self.memory_budget_bytes) and total > self.memory_budget_bytes
        return over_count or over_memory

    async def _enforce_limits(self) -> None:
        async with self._lock:
            await self._evict_locked()

    async def _evict_locked(self) -> None:
        while self._over_limits():
            idle = [
                e for e in self._entries.values() if e.state is State.LOADED and e.in_flight == 0
            ]
            if not idle:  # everything busy: over the limit until one is released
                log.warning("model limit exceeded; every loaded model is in use")
                return
            victim = min(idle, key=lambda e: e.last_used)
            await self._unload_locked(victim, reason="evicted (least recently used)")
            metrics.EVICTIONS.labels(victim.name, "lru").inc()

    async def _unload_locked(self, entry: ModelEntry, reason: str) -> None:
        if entry.state is not State.LOADED:
            return
        freed = entry.memory_bytes
        await asyncio.to_thread(entry.backend.unload)
        entry.state = State.UNLOADED
        entry.memory_bytes = 0
        entry.loading = None
        log.info(
            "model unloaded",
            extra={"model": entry.name, "reason": reason, "freed_mb": round(freed / 2**20, 1)},
        )

    # -- keep-alive --------------------------------------------------------------
    def start(self) -> None:
        if self.keep_alive_seconds > 0 and self._reaper is None:
            self._reaper = asyncio.create_task(self._reap_idle())

    async def close(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
            self._reaper = None
        async with self._lock:
            for entry in self._entries.values():
                await self._unload_locked(entry, reason="shutdown")

    async def _reap_idle(self) -> None:
        interval = min(max(self.keep_alive_seconds / 4, 0.05), 5.0)
        while True:
            await asyncio.sleep(interval)
            now = self._clock()
            async with self._lock:
                for entry in self._entries.values():
                    idle_for = now - entry.last_used
                    if (
                        entry.state is State.LOADED
                        and entry.in_flight == 0
                        and idle_for >= self.keep_alive_seconds
                    ):
                        await self._unload_locked(entry, reason=f"idle {idle_for:.1f}s")
                        metrics.EVICTIONS.labels(entry.name, "idle").inc()
