"""The store, the same tests on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest

from shared.audio.formats import AudioFormat
from voice_worker.store import migrations
from voice_worker.store.base import NewMessage, SessionSettings, TTSModelRecord
from voice_worker.store.sql import SqlStore, open_store


def turn(i: int) -> tuple[NewMessage, NewMessage]:
    return (
        NewMessage("user", f"question {i}", transcript=f"question {i}", audio_duration=1.5),
        NewMessage(
            "assistant",
            f"answer {i}",
            thinking=f"thought {i}",
            audio_format="mp3",
            audio_duration=2.0,
            timings={"chat": 0.1, "tts": 0.2},
        ),
    )


async def test_session_crud(store: SqlStore) -> None:
    created = await store.create_session(SessionSettings(voice="joe", speed=1.25), "first")
    found = await store.get_session(created.id)
    assert found is not None
    assert found.title == "first"
    assert found.settings.voice == "joe" and found.settings.speed == 1.25
    changed = SessionSettings(audio_format=AudioFormat.WAV, quality="low", analyst_role="analyst")
    updated = await store.update_session(created.id, changed)
    assert updated is not None and updated.settings == changed
    assert updated.settings.sample_rate == 16_000
    assert updated.updated_at >= created.updated_at
    assert await store.update_session("missing", changed) is None
    assert await store.delete_session(created.id) is True
    assert await store.get_session(created.id) is None
    assert await store.delete_session(created.id) is False


async def test_turns_history_and_pagination(store: SqlStore) -> None:
    session = await store.create_session(SessionSettings())
    other = await store.create_session(SessionSettings())
    for i in range(3):
        await store.add_turn(session.id, *turn(i))
    await store.add_turn(other.id, *turn(99))
    first = await store.list_messages(session.id, limit=4)
    assert [m.text for m in first.items] == ["question 0", "answer 0", "question 1", "answer 1"]
    assert first.next_cursor is not None
    rest = await store.list_messages(session.id, limit=4, cursor=first.next_cursor)
    assert [m.text for m in rest.items] == ["question 2", "answer 2"]
    assert rest.next_cursor is None
    answer = first.items[1]
    assert answer.thinking == "thought 0" and answer.timings == {"chat": 0.1, "tts": 0.2}
    assert answer.audio_format == "mp3" and answer.audio_duration == 2.0
    assert first.items[0].transcript == "question 0"
    recent = await store.recent_messages(session.id, 3)
    assert [m.text for m in recent] == ["answer 1", "question 2", "answer 2"]
    assert await store.delete_session(session.id)
    assert (await store.list_messages(session.id)).items == []
    assert len((await store.list_messages(other.id)).items) == 2


async def test_sessions_page_newest_first_without_repeats(store: SqlStore) -> None:
    ids = [(await store.create_session(SessionSettings())).id for _ in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        page = await store.list_sessions(limit=2, cursor=cursor)
        seen += [s.id for s in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == list(reversed(ids))
    with pytest.raises(ValueError, match="invalid cursor"):
        await store.list_sessions(cursor="not-a-cursor")


async def test_a_failed_turn_leaves_nothing(store: SqlStore) -> None:
    """Both messages are one transaction: the assistant's insert fails (its session
    does not exist for the foreign key... here a NOT NULL column), the user's is gone."""
    session = await store.create_session(SessionSettings())
    broken = NewMessage("assistant", None)  # type: ignore[arg-type]
    with pytest.raises(Exception, match=r"(?i)null"):
        await store.add_turn(session.id, turn(0)[0], broken)
    assert (await store.list_messages(session.id)).items == []


async def test_turn_of_a_deleted_session_is_refused(store: SqlStore) -> None:
    session = await store.create_session(SessionSettings())
    await store.delete_session(session.id)
    with pytest.raises(LookupError, match="no voice chat session"):
        await store.add_turn(session.id, *turn(0))
    assert (await store.list_messages(session.id)).items == []


async def test_concurrent_turns_all_stored(store: SqlStore) -> None:
    session = await store.create_session(SessionSettings())
    await asyncio.gather(*(store.add_turn(session.id, *turn(i)) for i in range(10)))
    page = await store.list_messages(session.id, limit=100)
    assert len(page.items) == 20
    ids = [m.id for m in page.items]
    assert ids == sorted(ids) and len(set(ids)) == 20


async def test_tts_models_replaced_in_step(store: SqlStore) -> None:
    a = TTSModelRecord("piper-joe", "piper", 22050, True, "loaded")
    b = TTSModelRecord("qwen3-0.6b", "qwen3", 24000, False, "unloaded")
    await store.replace_tts_models([a, b])
    assert [m.name for m in await store.list_tts_models()] == ["piper-joe", "qwen3-0.6b"]
    await store.replace_tts_models([a])
    (only,) = await store.list_tts_models()
    assert only.name == "piper-joe" and only.is_default and only.synced_at > 0


async def test_migrations_are_versioned_and_idempotent(database_url: str) -> None:
    first = await open_store(database_url)
    again = await open_store(database_url)  # a second worker starting: nothing to do
    try:
        assert await migrations.current_version(first.engine) == migrations.LATEST
        assert await migrations.migrate(again.engine) == []
    finally:
        await first.close()
        await again.close()


async def test_workers_starting_together_migrate_once(tmp_path: object) -> None:
    """Three stores opening one new SQLite file at once (three worker processes)."""
    url = f"sqlite:///{tmp_path}/race.db"
    stores = await asyncio.gather(*(open_store(url) for _ in range(3)))
    try:
        assert await migrations.current_version(stores[0].engine) == migrations.LATEST
    finally:
        for opened in stores:
            await opened.close()


async def test_sqlite_uses_wal(tmp_path: object) -> None:
    store = await open_store(f"sqlite:///{tmp_path}/wal.db")
    try:
        async with store.engine.connect() as conn:
            mode = await conn.exec_driver_sql("PRAGMA journal_mode")
            assert mode.scalar() == "wal"
    finally:
        await store.close()
