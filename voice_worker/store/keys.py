"""Idempotency keys in the SQL store (table `voice_idempotency_keys`, migration 3).

A key is claimed by inserting its row (`running`, a random owner token, a lease);
a second request finds the row: the same fingerprint and `done` is a replay, still
`running` under a live lease is in progress, a lapsed lease (its worker died) is
taken over by a conditional UPDATE on the old owner, so two requests cannot both
take it (on PostgreSQL, a claimant that holds the key's advisory lock takes over a
live lease too: `force`, its worker is gone); another fingerprint is a mismatch.
The request that runs marks the key done in the transaction that stores its work
(`finish`, on the caller's connection), again conditional on its owner token: a
request whose claim was taken over meanwhile stores nothing. Expired keys (older
than the TTL) are reused on claim and purged now and then."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from voice_worker.store.base import KeyClaim, KeyLost, KeyReceipt
from voice_worker.store.migrations import idempotency_keys as keys

PURGE_EVERY_SECONDS = 60.0


def new_owner() -> str:
    return uuid.uuid4().hex


def _running(key: str, fingerprint: str, owner: str, lease: float, ttl: float) -> dict[str, Any]:
    now = time.time()
    return {
        "key": key,
        "fingerprint": fingerprint,
        "state": "running",
        "owner": owner,
        "lease_until": now + lease,
        "expires_at": now + ttl,
        "result": None,
        "created_at": now,
    }


async def insert(
    conn: AsyncConnection, key: str, fingerprint: str, lease: float, ttl: float
) -> KeyClaim:
    """The first claim (IntegrityError when the key has a row)."""
    owner = new_owner()
    await conn.execute(keys.insert().values(**_running(key, fingerprint, owner, lease, ttl)))
    return KeyClaim("claimed", owner)


async def decide(
    conn: AsyncConnection,
    key: str,
    fingerprint: str,
    lease: float,
    ttl: float,
    force: bool = False,
) -> KeyClaim | None:
    """The claim of a key that has a row; None when it went away meanwhile. `force`:
    a running claim is its dead worker's, whatever its lease says."""
    row = (await conn.execute(keys.select().where(keys.c.key == key))).first()
    if row is None:
        return None
    now = time.time()
    lapsed = row.lease_until <= now or force
    if row.expires_at <= now or (row.state == "running" and lapsed):
        if row.fingerprint != fingerprint and row.expires_at > now:
            return KeyClaim("mismatch")
        owner = new_owner()
        taken = await conn.execute(
            keys.update()
            .where(keys.c.key == key, keys.c.owner == row.owner, keys.c.state == row.state)
            .values(**_running(key, fingerprint, owner, lease, ttl))
        )
        return KeyClaim("claimed", owner) if taken.rowcount else KeyClaim("running")
    if row.fingerprint != fingerprint:
        return KeyClaim("mismatch")
    if row.state == "done":
        return KeyClaim("done", result=row.result)
    return KeyClaim("running")


async def renew(conn: AsyncConnection, key: str, owner: str, lease: float) -> bool:
    result = await conn.execute(
        keys.update()
        .where(keys.c.key == key, keys.c.owner == owner, keys.c.state == "running")
        .values(lease_until=time.time() + lease)
    )
    return bool(result.rowcount)


async def release(conn: AsyncConnection, key: str, owner: str) -> None:
    await conn.execute(
        keys.delete().where(keys.c.key == key, keys.c.owner == owner, keys.c.state == "running")
    )


async def finish(conn: AsyncConnection, receipt: KeyReceipt, extra: Mapping[str, object]) -> None:
    """Mark the key done with its result, in the caller's transaction; KeyLost (the
    transaction rolls back) when the claim is no longer `receipt.owner`'s."""
    result = json.dumps({**receipt.result, **extra})
    done = await conn.execute(
        keys.update()
        .where(keys.c.key == receipt.key, keys.c.owner == receipt.owner, keys.c.state == "running")
        .values(state="done", result=result)
    )
    if not done.rowcount:
        raise KeyLost(f"idempotency key {receipt.key!r} is no longer held by this request")


async def purge(conn: AsyncConnection) -> int:
    result = await conn.execute(keys.delete().where(keys.c.expires_at < time.time()))
    return int(result.rowcount or 0)
