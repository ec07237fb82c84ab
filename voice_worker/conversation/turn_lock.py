"""One turn at a time per session, across every worker: `TurnLocks.hold(session_id)`
holds the session's turn from the moment its history is read until its messages are
stored, so two turns sent at the same moment to two workers never build their prompts
from the same history.

Within a process an asyncio.Lock orders the turns of a session; across processes and
machines the store's turn lease does (a row with a token and an expiry, in SQLite or
PostgreSQL, the one place every worker shares). A second turn waits for the lease,
polling with a growing pause, up to `wait_seconds`, then gets Conflict (HTTP 409). The
lease is renewed while the turn runs, so a long turn keeps it and a crashed worker's
lease runs out; its token fences the write (`add_turn(lease=...)`): a turn that lost
its lease (stalled past its expiry while another took over) cannot store. On
PostgreSQL the turn is also the session's advisory lock, held on this worker's
database session (store.session_locks) for the turn's duration: when a worker dies,
the database frees it at once and the next turn takes the lease over without waiting
for it to run out (the token still fences a worker that was only slow)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
import weakref
from collections.abc import AsyncIterator

from voice_worker.errors import Conflict, NotFound
from voice_worker.store.base import ChatStore

log = logging.getLogger(__name__)
FIRST_PAUSE, LONGEST_PAUSE = 0.05, 0.5


def busy(session_id: str) -> Conflict:
    return Conflict(
        f"another turn of session {session_id!r} is still in progress; send the next one "
        "when it has ended",
        param="session_id",
        code="turn_in_progress",
        retry_after=1,
    )


class TurnLocks:
    def __init__(self, store: ChatStore, lease_seconds: float, wait_seconds: float) -> None:
        self.store = store
        self.lease_seconds = lease_seconds
        self.wait_seconds = wait_seconds
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    @contextlib.asynccontextmanager
    async def hold(self, session_id: str) -> AsyncIterator[str]:
        """The session's turn, for the body; yields the lease token (for add_turn)."""
        deadline = time.monotonic() + self.wait_seconds
        lock = self._locks.setdefault(session_id, asyncio.Lock())
        if not lock.locked():
            await lock.acquire()  # free: taken at once, whatever wait_seconds is
        else:
            try:
                await asyncio.wait_for(lock.acquire(), self.wait_seconds)
            except asyncio.TimeoutError:
                raise busy(session_id) from None
        try:
            token = uuid.uuid4().hex
            await self._lease(session_id, token, deadline)
            renewing = asyncio.create_task(self._renew(session_id, token))
            try:
                yield token
            finally:
                renewing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await renewing
                await self._release(session_id, token)
        finally:
            lock.release()

    async def _lease(self, session_id: str, token: str, deadline: float) -> None:
        pause = FIRST_PAUSE
        locks = self.store.session_locks
        while True:
            locked = locks is not None and await locks.try_lock(f"turn:{session_id}")
            try:
                if await self.store.acquire_turn(
                    session_id, token, self.lease_seconds, force=locked
                ):
                    return  # (the lock, if any, is let go in _release)
            except LookupError:
                await self._unlock(session_id, locked)
                raise NotFound(
                    f"no voice chat session {session_id!r}", param="session_id"
                ) from None
            except BaseException:
                await self._unlock(session_id, locked)
                raise
            await self._unlock(session_id, locked)
            if time.monotonic() + pause > deadline:
                raise busy(session_id)
            await asyncio.sleep(pause)
            pause = min(pause * 2, LONGEST_PAUSE)

    async def _unlock(self, session_id: str, locked: bool = True) -> None:
        locks = self.store.session_locks
        if locked and locks is not None:
            try:
                await asyncio.shield(locks.unlock(f"turn:{session_id}"))
            except Exception:  # gone with its connection
                log.warning("turn lock not released", extra={"session_id": session_id})

    async def _renew(self, session_id: str, token: str) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            try:
                if not await self.store.renew_turn(session_id, token, self.lease_seconds):
                    return  # stored (add_turn released it) or lost: nothing to renew
            except Exception:
                log.warning(
                    "turn lease not renewed", exc_info=True, extra={"session_id": session_id}
                )

    async def _release(self, session_id: str, token: str) -> None:
        """After the turn (a no-op when add_turn released it already)."""
        try:
            await self.store.release_turn(session_id, token)
        except Exception:  # it runs out by itself
            log.warning("turn lease not released", exc_info=True, extra={"session_id": session_id})
        await self._unlock(session_id)
