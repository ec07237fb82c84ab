"""One connection is one session: `SessionClaims` refuses a second connection to a
session that has one open in this worker process (`Busy`, code `session_in_use`),
so two conversations never interleave in one history. The claim is per process:
across workers behind a load balancer it takes a shared lock (Redis), which this does
not do."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from voice_worker.errors import Busy


class SessionClaims:
    def __init__(self) -> None:
        self._held: set[str] = set()

    @contextmanager
    def claim(self, session_id: str) -> Iterator[None]:
        if session_id in self._held:
            raise Busy(
                f"session {session_id!r} already has a realtime connection; one connection "
                "is one session (close the other, or open a new session)",
                code="session_in_use",
            )
        self._held.add(session_id)
        try:
            yield
        finally:
            self._held.discard(session_id)

    def __contains__(self, session_id: str) -> bool:
        return session_id in self._held
