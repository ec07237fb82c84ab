"""Idempotency keys in the store, the same tests on SQLite and on PostgreSQL: a key is
claimed once; its result is written with the turn (or the session) in one
transaction; a lapsed lease is taken over and the old holder then stores nothing;
another request under the same key is a mismatch; expired keys are reused."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.chat.test_store import turn
from voice_worker.store.base import KeyLost, KeyReceipt, SessionSettings
from voice_worker.store.sql import SqlStore

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
