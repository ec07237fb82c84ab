"""A reply's tool calls kept with its message (migration 6), on SQLite and PostgreSQL:
a database from before keeps its messages (no calls), a new turn's calls are read back
as they were stored."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa

from tests.chat.conftest import PG_ADMIN, _admin
from voice_worker.store import migrations as m
from voice_worker.store.base import NewMessage, SessionSettings
from voice_worker.store.engine import make_engine
from voice_worker.store.sql import open_store

CALL = {"id": "call_1", "name": "weather", "arguments": "{}", "output": "Sunny.", "error": False}


@pytest.fixture
async def fresh_url(database_url: str) -> AsyncIterator[str]:
    """An empty database: SQLite's is; PostgreSQL's is one of its own, dropped after."""
    if "postgresql" not in database_url:
        yield database_url
        return
    name = f"voice_calls_{uuid.uuid4().hex[:12]}"
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_calls_are_kept_and_older_messages_have_none(fresh_url: str) -> None:
    engine = make_engine(fresh_url)
    assert await m.migrate(engine, target=5) == [1, 2, 3, 4, 5]
    async with engine.begin() as conn:
        await conn.execute(
            sa.text(
                "INSERT INTO voice_chat_sessions (id, title, settings, created_at, updated_at) "
                "VALUES ('old', '', '{}', 1.0, 1.0)"
            )
        )
        await conn.execute(
            sa.text(
                "INSERT INTO voice_chat_messages (session_id, role, text, thinking, timings, "
                "created_at) VALUES ('old', 'assistant', 'Hello.', '', '{}', 1.0)"
            )
        )
    await engine.dispose()
    store = await open_store(fresh_url)
    try:
        assert await m.current_version(store.engine) == m.LATEST == 6
        (old,) = await store.recent_messages("old", 10)
        assert old.text == "Hello." and old.tool_calls == []
        session = await store.create_session(SessionSettings())
        user = NewMessage("user", "Weather?")
        answer = NewMessage("assistant", "It is sunny.", tool_calls=[CALL])
        stored = await store.add_turn(session.id, user, answer)
        assert stored[1].tool_calls == [CALL] and stored[0].tool_calls == []
        read = await store.recent_messages(session.id, 10)
        assert [r.tool_calls for r in read] == [[], [CALL]]
    finally:
        await store.close()
