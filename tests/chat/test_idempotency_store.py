"""Idempotency keys in the store, the same tests on SQLite and on PostgreSQL: a key is
claimed once; its result is written with the turn (or the session) in one
transaction; a lapsed lease is taken over and the old holder then stores nothing;
another request under the same key is a mismatch; expired keys are reused; a repeat
waits for a live holder (then its result, or 409 past the wait); on PostgreSQL a
dead worker's claims (key, turn) are free the moment its connection drops."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.chat.test_store import turn
from voice_worker.conversation.idempotency import Held, IdempotencyKeys
from voice_worker.conversation.turn_lock import TurnLocks
from voice_worker.errors import InProgress
from voice_worker.store.base import KeyLost, KeyReceipt, SessionSettings
from voice_worker.store.sql import SqlStore, open_store

LEASE, TTL = 30.0, 60.0


async def test_claimed_once_then_done_with_the_turn(store: SqlStore) -> None:
    session = await store.create_session(SessionSettings())
    first = await store.claim_key("k-1", "fp-a", LEASE, TTL)
    assert first.state == "claimed" and first.owner
    assert (await store.claim_key("k-1", "fp-a", LEASE, TTL)).state == "running"
    assert (await store.claim_key("k-1", "fp-b", LEASE, TTL)).state == "mismatch"
    receipt = KeyReceipt("k-1", first.owner, {"reply_text": "answer 0"})
    user, assistant = await store.add_turn(session.id, *turn(0), receipt)
    done = await store.claim_key("k-1", "fp-a", LEASE, TTL)
    assert done.state == "done" and done.result is not None
    assert json.loads(done.result) == {
        "reply_text": "answer 0",
        "user_message_id": user.id,
        "assistant_message_id": assistant.id,
    }
    assert (await store.claim_key("k-1", "fp-b", LEASE, TTL)).state == "mismatch"


async def test_concurrent_claims_give_the_key_to_one(store: SqlStore) -> None:
    claims = await asyncio.gather(*(store.claim_key("k-race", "fp", LEASE, TTL) for _ in range(8)))
    assert sorted(c.state for c in claims) == ["claimed"] + ["running"] * 7


async def test_a_lapsed_lease_is_taken_over_and_the_old_holder_stores_nothing(
    store: SqlStore,
) -> None:
    session = await store.create_session(SessionSettings())
    dead = await store.claim_key("k-2", "fp", 0.05, TTL)
    await asyncio.sleep(0.1)  # its worker died: nobody renewed the lease
    retry = await store.claim_key("k-2", "fp", LEASE, TTL)
    assert retry.state == "claimed" and retry.owner != dead.owner
    assert not await store.renew_key("k-2", dead.owner, LEASE)
    assert await store.renew_key("k-2", retry.owner, LEASE)
    with pytest.raises(KeyLost):
        await store.add_turn(session.id, *turn(0), KeyReceipt("k-2", dead.owner))
    assert await store.count_messages(session.id) == 0  # rolled back whole
    await store.add_turn(session.id, *turn(0), KeyReceipt("k-2", retry.owner))
    assert await store.count_messages(session.id) == 2


async def test_released_and_expired_keys_run_again(store: SqlStore) -> None:
    held = await store.claim_key("k-3", "fp", LEASE, TTL)
    await store.release_key("k-3", held.owner)
    assert (await store.claim_key("k-3", "fp", LEASE, TTL)).state == "claimed"
    short = await store.claim_key("k-4", "fp", LEASE, 0.05)
    await store.create_session(SessionSettings(), "once", receipt=KeyReceipt("k-4", short.owner))
    await asyncio.sleep(0.1)
    assert (await store.claim_key("k-4", "another request", LEASE, TTL)).state == "claimed"


async def test_session_creation_stores_the_session_as_the_result(store: SqlStore) -> None:
    held = await store.claim_key("k-5", "fp", LEASE, TTL)
    record = await store.create_session(
        SessionSettings(voice="joe"), "titled", receipt=KeyReceipt("k-5", held.owner)
    )
    done = await store.claim_key("k-5", "fp", LEASE, TTL)
    assert done.result is not None
    stored = json.loads(done.result)
    assert stored["id"] == record.id and stored["title"] == "titled"
    assert stored["settings"]["voice"] == "joe"


async def test_a_repeat_waits_for_a_live_holder_then_gets_its_result_or_409(
    store: SqlStore,
) -> None:
    session = await store.create_session(SessionSettings())
    keys = IdempotencyKeys(store, TTL, LEASE, wait_seconds=5.0)
    held = await keys.claim("k-wait", "fp")
    assert isinstance(held, Held)
    repeat = asyncio.create_task(keys.claim("k-wait", "fp"))
    await asyncio.sleep(0.3)
    assert not repeat.done()  # waits: the holder is alive
    await store.add_turn(session.id, *turn(0), held.receipt({"reply_text": "answer 0"}))
    await held.done()
    result = await asyncio.wait_for(repeat, 5)
    assert isinstance(result, dict) and result["reply_text"] == "answer 0"
    impatient = IdempotencyKeys(store, TTL, LEASE, wait_seconds=0.3)
    other = await impatient.claim("k-busy", "fp")
    assert isinstance(other, Held)
    with pytest.raises(InProgress):  # past the wait: 409
        await impatient.claim("k-busy", "fp")
    await other.release()


async def test_on_postgresql_a_dead_workers_claims_free_at_once(database_url: str) -> None:
    """Two workers' stores on one database; the first claims a key and a session's turn
    under long leases, then its connection drops (the worker killed): the second takes
    both over at once, and the first, if it was only slow, stores nothing."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite (one machine) keeps its leases")
    dead, alive = await open_store(database_url), await open_store(database_url)
    try:
        session = await alive.create_session(SessionSettings())
        victim = IdempotencyKeys(dead, TTL, LEASE, wait_seconds=0.5)
        held = await victim.claim("k-dead", "fp")
        assert isinstance(held, Held) and held.locked
        assert dead.session_locks is not None
        assert await dead.session_locks.try_lock(f"turn:{session.id}")
        assert await dead.acquire_turn(session.id, "dead-token", LEASE)
        survivor = IdempotencyKeys(alive, TTL, LEASE, wait_seconds=0.5)
        with pytest.raises(InProgress):  # alive: its locks hold
            await survivor.claim("k-dead", "fp")
        assert not await alive.acquire_turn(session.id, "t", LEASE)  # the dead one's lease
        assert dead.advisory is not None and dead.advisory._conn is not None
        await dead.advisory._conn.invalidate()  # its connection drops, as when killed
        took = await survivor.claim("k-dead", "fp")
        assert isinstance(took, Held) and took.owner != held.owner
        async with TurnLocks(alive, LEASE, 2.0).hold(session.id) as token:
            await alive.add_turn(session.id, *turn(0), took.receipt({}), lease=token)
        with pytest.raises(KeyLost):  # the slow one's fencing token is stale
            await dead.add_turn(session.id, *turn(1), held.receipt({}))
        assert await alive.count_messages(session.id) == 2
    finally:
        await dead.close()
        await alive.close()
