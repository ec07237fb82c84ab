"""The store's side of ownership and of one turn at a time, on SQLite and PostgreSQL:
the migration gives every existing session the anonymous owner; reads, listings and
writes restricted to an owner treat another owner's session as missing; a turn lease is
held by one token at a time, runs out, and fences the turn's write."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa

from tests.chat.conftest import PG_ADMIN, _admin
from voice_worker.store import migrations as m
from voice_worker.store.base import NewMessage, SessionSettings, TurnLeaseLost
from voice_worker.store.engine import make_engine
from voice_worker.store.sql import SqlStore, open_store


@pytest.fixture
async def fresh_url(database_url: str) -> AsyncIterator[str]:
    """An empty database: SQLite's is; PostgreSQL's is one of its own, dropped after."""
    if "postgresql" not in database_url:
        yield database_url
        return
    name = f"voice_migrate_{uuid.uuid4().hex[:12]}"
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_the_migration_gives_existing_sessions_the_anonymous_owner(fresh_url: str) -> None:
    database_url = fresh_url
    engine = make_engine(database_url)
    assert await m.migrate(engine, target=2) == [1, 2]
    async with engine.begin() as conn:
        await conn.execute(
            sa.text(
                "INSERT INTO voice_chat_sessions (id, title, settings, created_at, updated_at) "
                "VALUES ('old', 'from before owners', '{}', 1.0, 1.0)"
            )
        )
    await engine.dispose()
    store = await open_store(database_url)
    try:
        old = await store.get_session("old")
        assert old is not None and old.owner == "anonymous" and old.title == "from before owners"
        assert await store.get_session("old", owner="anonymous") is not None
        assert await store.get_session("old", owner="alice") is None
        assert await m.current_version(store.engine) == m.LATEST
    finally:
        await store.close()


async def test_sessions_of_another_owner_are_missing(store: SqlStore) -> None:
    alice = await store.create_session(SessionSettings(), "a", owner="alice")
    bob = await store.create_session(SessionSettings(), "b", owner="bob")
    assert (await store.get_session(alice.id, owner="alice")) == alice
    assert await store.get_session(alice.id, owner="bob") is None
    assert (await store.get_session(alice.id)) == alice  # no owner given: an admin
    listed = await store.list_sessions(owner="bob")
    assert [s.id for s in listed.items] == [bob.id]
    assert {s.id for s in (await store.list_sessions()).items} == {alice.id, bob.id}
    assert await store.update_session(alice.id, SessionSettings(speed=2), "x", owner="bob") is None
    assert await store.delete_session(alice.id, owner="bob") is False
    kept = await store.get_session(alice.id)
    assert kept is not None and kept.title == "a" and kept.settings.speed == 1.0
    assert await store.delete_session(alice.id, owner="alice") is True


async def test_a_turn_lease_is_held_once_runs_out_and_fences_the_write(store: SqlStore) -> None:
    session = await store.create_session(SessionSettings())
    first, second = uuid.uuid4().hex, uuid.uuid4().hex
    assert await store.acquire_turn(session.id, first, 30)
    assert not await store.acquire_turn(session.id, second, 30)  # held
    assert await store.renew_turn(session.id, first, 30)
    assert not await store.renew_turn(session.id, second, 30)
    await store.release_turn(session.id, second)  # not its lease: nothing happens
    assert not await store.acquire_turn(session.id, second, 30)
    await store.release_turn(session.id, first)
    assert await store.acquire_turn(session.id, second, 0.2)
    await asyncio.sleep(0.3)  # the lease runs out (a worker that died mid-turn)
    assert await store.acquire_turn(session.id, first, 30)  # taken over
    user, assistant = NewMessage("user", "q"), NewMessage("assistant", "a")
    with pytest.raises(TurnLeaseLost):  # the stalled turn cannot store
        await store.add_turn(session.id, user, assistant, lease=second)
    assert await store.count_messages(session.id) == 0
    await store.add_turn(session.id, user, assistant, lease=first)
    assert await store.count_messages(session.id) == 2
    assert await store.acquire_turn(session.id, second, 30)  # add_turn released it
    with pytest.raises(LookupError):
        await store.acquire_turn("missing", first, 30)
    assert await store.delete_session(session.id)  # with its lease
    with pytest.raises(LookupError):  # deleted during the turn: not a lost lease
        await store.add_turn(session.id, user, assistant, lease=second)
