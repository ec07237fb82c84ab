"""Optional capabilities any long-lived part of the worker may have (a provider, a
cache, the store). Each is a small runtime-checkable Protocol, checked once when the
worker is wired (voice_worker/components.py), never probed with getattr."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@runtime_checkable
class Closeable(Protocol):
    """Holds connections, threads or a model to release at shutdown."""

    async def close(self) -> None: ...


@dataclass(frozen=True)
class Readiness:
    ready: bool
    detail: str


@runtime_checkable
class SupportsReadiness(Protocol):
    """Can tell whether it would serve a request now (for /readyz)."""

    async def readiness(self) -> Readiness: ...


@runtime_checkable
class SupportsWarmUp(Protocol):
    """Can load what it needs before the first request (a local model)."""

    async def warm_up(self) -> None: ...
