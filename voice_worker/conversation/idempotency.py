"""Idempotent turns and session creation: a client that lost its connection sends the
same request again with the same `Idempotency-Key` and gets the stored result, never
a second turn.

`IdempotencyKeys.claim(key, fingerprint)` asks the store (so the keys work across
workers): the first request with a key runs (`Held`); a repeat of the same request
gets the stored result (a dict); while the first still runs, the repeat waits for it
(at most `wait_seconds`, a turn's deadline) and gets its stored result, or runs
itself if the first failed; past the wait, InProgress (409 with Retry-After); the
same key with another request, KeyReused (422). A held key has a lease its request
renews while it runs (`Held.kept`); a request whose worker died stops renewing, and
once the lease lapses a retry takes the key over. On PostgreSQL the claim is also the
key's advisory lock, held on this worker's database session (store.session_locks):
a dead worker's lock is freed by the database at once, and a retry that gets it
takes the key over without waiting for the lease (the owner token still fences a
worker that was only slow). The result is
written in the transaction that stores the turn or the session (a `KeyReceipt`), so
a turn is stored, and its key done, once or not at all; a request that fails
releases its key (a retry runs anew). Keys live as long as the response cache
(VOICE_RESPONSE_CACHE__TTL_SECONDS)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from voice_worker.errors import InProgress, KeyReused
from voice_worker.observability import metrics
from voice_worker.store.base import ChatStore, KeyClaim, KeyReceipt

log = logging.getLogger(__name__)
Stored = dict[str, Any]  # a request's stored result
T = TypeVar("T")


def fingerprint(*parts: str | bytes) -> str:
    """SHA-256 over the parts of a request, each length-prefixed (no ambiguity)."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


@dataclass
class Held:
    """A key this request holds: renew it while working, hand in the result; `locked`:
    it holds the key's session lock too (let go by `done`/`release`)."""

    key: str
    owner: str
    keys: IdempotencyKeys
    locked: bool = False

    def receipt(self, result: Stored) -> KeyReceipt:
        return KeyReceipt(self.key, self.owner, result)

    @contextlib.asynccontextmanager
    async def kept(self) -> AsyncIterator[None]:
        """Renew the lease while the block runs."""
        task = asyncio.create_task(self._renew())
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(self.keys.lease_seconds / 3)
            try:
                if not await self.keys.store.renew_key(
                    self.key, self.owner, self.keys.lease_seconds
                ):
                    log.warning("idempotency key taken over", extra={"key": self.key})
                    return
            except Exception as exc:  # the store away for a moment: try again
                log.warning("idempotency key renewal failed", extra={"error": str(exc)})

    async def kept_until(
        self, items: AsyncGenerator[T, None], stored: Callable[[T], bool]
    ) -> AsyncGenerator[T, None]:
        """A streamed request's items, the key renewed while they come and released
        unless one of them says the result is `stored` (a turn's TurnDone)."""
        done = False
        try:
            async with self.kept(), contextlib.aclosing(items):
                async for item in items:
                    done = done or stored(item)
                    yield item
        finally:
            if not done:
                await self.release()
            else:
                await self.done()

    async def release(self) -> None:
        """The request failed: forget the key (best effort; its lease lapses anyway)."""
        try:
            await asyncio.shield(self.keys.store.release_key(self.key, self.owner))
        except Exception as exc:
            log.warning("idempotency key release failed", extra={"error": str(exc)})
        await self.done()

    async def done(self) -> None:
        """The result is stored (or the key released): let the session lock go."""
        if self.locked:
            self.locked = False
            await asyncio.shield(self.keys.unlock(self.key))


def scoped_key(user: str, key: str) -> str:
    """The key as stored: one user's keys never meet another's (a digest of both, so
    any key of up to 255 characters fits)."""
    return hashlib.sha256(f"{user}\x00{key}".encode()).hexdigest()


FIRST_PAUSE, LONGEST_PAUSE = 0.05, 0.5


class IdempotencyKeys:
    def __init__(
        self,
        store: ChatStore,
        ttl_seconds: float,
        lease_seconds: float,
        wait_seconds: float = 0.0,
    ) -> None:
        self.store = store
        self.ttl_seconds = ttl_seconds
        self.lease_seconds = lease_seconds
        self.wait_seconds = wait_seconds
        self.locks = store.session_locks

    async def unlock(self, key: str) -> None:
        if self.locks is not None:
            try:
                await self.locks.unlock(f"idempotency:{key}")
            except Exception as exc:  # gone with its connection
                log.warning("idempotency lock not released", extra={"error": str(exc)})

    async def claim(self, key: str, request: str) -> Held | Stored:
        """`Held` when this request runs, the stored result when it already ran (or,
        within `wait_seconds`, once a live request running it has stored it);
        InProgress or KeyReused otherwise (`request`: its fingerprint)."""
        deadline = time.monotonic() + self.wait_seconds
        pause = FIRST_PAUSE
        waited = False
        while True:
            try:
                return await self._claim_once(key, request)
            except InProgress:
                if not waited:  # counted once per request, not per look
                    metrics.idempotency("in_progress")
                    waited = True
                if time.monotonic() + pause > deadline:
                    raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, LONGEST_PAUSE)

    async def _claim_once(self, key: str, request: str) -> Held | Stored:
        locked = self.locks is not None and await self.locks.try_lock(f"idempotency:{key}")
        try:
            claim = await self.store.claim_key(
                key, request, self.lease_seconds, self.ttl_seconds, force=locked
            )
        except BaseException:
            if locked:
                await self.unlock(key)
            raise
        if claim.state == "claimed":
            metrics.idempotency("new")
            return Held(key, claim.owner, self, locked)
        if locked:
            await self.unlock(key)
        return self._answer(claim)

    def _answer(self, claim: KeyClaim) -> Stored:
        """A claim that is not this request's: the stored result, else the error."""
        if claim.state == "done" and claim.result is not None:
            metrics.idempotency("replayed")
            stored: Stored = json.loads(claim.result)
            return stored
        if claim.state == "mismatch":
            metrics.idempotency("mismatch")
            raise KeyReused(
                "this Idempotency-Key was used with a different request; use a new key",
                param="Idempotency-Key",
                code="idempotency_key_reused",
            )
        raise InProgress(
            "a request with this Idempotency-Key is still running; retry shortly",
            param="Idempotency-Key",
            code="idempotency_key_in_use",
            retry_after=1,
        )
