"""`AdvisoryLocks`: claims tied to this worker's PostgreSQL session, so that the
database itself frees them the moment the worker is gone (SIGKILL, an OOM kill, a
lost node: its connection drops, and with it every lock it held), instead of after a
lease runs out. One connection per worker holds them all (`pg_try_advisory_lock` on
a 64-bit digest of the name, AUTOCOMMIT: no transaction stays open); the requests of
this worker share it, and a name one of them holds is refused to the others here (a
PostgreSQL session may take its own lock twice). Should that connection drop, every
lock is lost at once: the claims it guarded fall back on their fencing tokens (a
request whose claim was taken over stores nothing). SQLite (one machine) has none:
its leases stay as they are."""

from __future__ import annotations

import asyncio
import hashlib
import logging

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from voice_worker.errors import StoreUnavailable

log = logging.getLogger(__name__)
_TRY = sa.text("SELECT pg_try_advisory_lock(:id)")
_UNLOCK = sa.text("SELECT pg_advisory_unlock(:id)")


def lock_id(name: str) -> int:
    """A signed 64-bit id of `name` (PostgreSQL's advisory lock key)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class AdvisoryLocks:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._conn: AsyncConnection | None = None
        self._mutex = asyncio.Lock()  # one statement at a time on the connection
        self._held: set[str] = set()

    async def try_lock(self, name: str) -> bool:
        """Whether this request now holds `name`: False while another request, of this
        worker or of another, holds it. An unreachable database: StoreUnavailable."""
        if name in self._held:
            return False
        async with self._mutex:
            try:
                conn = await self._connection()
                got = bool((await conn.execute(_TRY, {"id": lock_id(name)})).scalar())
            except Exception as exc:
                await self._drop()
                first_line = (str(exc).splitlines() or [""])[0][:200]
                raise StoreUnavailable(f"{type(exc).__name__}: {first_line}") from exc
            if got:
                self._held.add(name)
            return got

    async def unlock(self, name: str) -> None:
        """Let `name` go (a no-op when it was lost with the connection)."""
        if name not in self._held:
            return
        async with self._mutex:
            self._held.discard(name)
            if self._conn is None:
                return
            try:
                await self._conn.execute(_UNLOCK, {"id": lock_id(name)})
            except Exception as exc:  # dropped: its locks went with it
                log.warning("advisory unlock failed", extra={"error": str(exc)})
                await self._drop()

    async def _connection(self) -> AsyncConnection:
        if self._conn is None:
            conn = await self.engine.connect()
            self._conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        return self._conn

    async def _drop(self) -> None:
        """The connection is gone or unusable: so are its locks."""
        conn, self._conn = self._conn, None
        if self._held:
            log.warning(
                "advisory locks lost with their connection", extra={"held": len(self._held)}
            )
        self._held.clear()
        if conn is not None:
            try:
                await conn.invalidate()
                await conn.close()
            except Exception:  # already broken
                pass

    async def close(self) -> None:
        async with self._mutex:
            await self._drop()
