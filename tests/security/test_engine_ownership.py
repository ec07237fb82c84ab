"""Ownership and one-turn-at-a-time in the domain itself (what every transport gets):
the engine refuses another user's session exactly as a missing one, whether it is
named by id or handed over as a record; an admin may talk in it; a session deleted
during a turn is NotFound, not a lost lease; a second turn of a session waits for the
first (Conflict when it may not wait), and a free session is taken at once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.chat.fakes import RecordingTTS, ScriptedChat
from voice_worker.auth.principal import Principal
from voice_worker.chat.settings import ChatSettings
from voice_worker.conversation.engine import VoiceChatEngine
from voice_worker.conversation.events import ReplyDelta, TurnDone
from voice_worker.errors import Conflict, NotFound
from voice_worker.store.base import SessionSettings
from voice_worker.store.sql import SqlStore, open_store

ALICE, BOB, ADMIN = Principal("alice"), Principal("bob"), Principal("root", admin=True)


@pytest.fixture
async def sqlite(tmp_path: Path) -> AsyncIterator[SqlStore]:
    store = await open_store(f"sqlite:///{tmp_path}/engine.db")
    yield store
    await store.close()


def engine(store: SqlStore, **settings: object) -> VoiceChatEngine:
    chat_settings = ChatSettings.model_validate(settings)
    return VoiceChatEngine(store, ScriptedChat(), RecordingTTS(), chat_settings)


async def test_another_users_session_is_not_found_by_id_or_record(sqlite: SqlStore) -> None:
    voice = engine(sqlite)
    record = await sqlite.create_session(SessionSettings(), owner="alice")
    for session in (record.id, record):
        with pytest.raises(NotFound) as theirs:
            await voice.begin_text(session, "hi", BOB)
        with pytest.raises(NotFound) as missing:
            await voice.begin_text("0" * 32, "hi", BOB)
        assert theirs.value.message.replace(record.id, "0" * 32) == missing.value.message
        assert theirs.value.param == missing.value.param == "session_id"
    assert (await voice.process_text_only(record.id, "hi", ALICE)).reply_text == "reply 1"
    assert (await voice.process_text_only(record, "hi", ADMIN)).reply_text == "reply 2"
    assert await sqlite.count_messages(record.id) == 4


async def test_a_session_deleted_during_the_turn_is_not_found(sqlite: SqlStore) -> None:
    voice = engine(sqlite)
    record = await sqlite.create_session(SessionSettings(), owner="alice")
    turn = await voice.begin_text(record.id, "hi", ALICE)
    events = voice.run(turn)
    async with contextlib.aclosing(events):
        assert isinstance(await anext(events), ReplyDelta)
        assert await sqlite.delete_session(record.id)
        with pytest.raises(NotFound, match="deleted during the turn"):
            async for _ in events:
                pass


async def test_turns_of_one_session_take_turns(sqlite: SqlStore) -> None:
    patient, hasty = engine(sqlite), engine(sqlite, turn_wait_seconds=0.3)
    record = await sqlite.create_session(SessionSettings(), owner="alice")
    holding = patient.run(await patient.begin_text(record.id, "first", ALICE))
    async with contextlib.aclosing(holding):
        assert isinstance(await anext(holding), ReplyDelta)  # the first turn holds it
        # another engine (another worker's, as far as the store can tell) gives up...
        with pytest.raises(Conflict) as caught:
            await hasty.process_text_only(record.id, "second", ALICE)
        assert caught.value.code == "turn_in_progress"
        # ...the patient one waits for the first to be stored, then sees it
        waiting = asyncio.ensure_future(patient.process_text_only(record.id, "third", ALICE))
        await asyncio.sleep(0.2)
        assert not waiting.done()
        async for event in holding:
            done = event
        assert isinstance(done, TurnDone)
        third = await asyncio.wait_for(waiting, 30)
    prompts = patient.chat.prompts  # type: ignore[attr-defined]
    assert [m.content for m in prompts[-1][1:]] == ["first", "reply 1", "third"]
    assert third.reply_text == "reply 2"
    free = engine(sqlite, turn_wait_seconds=0)  # may not wait at all: a free session is fine
    assert (await free.process_text_only(record.id, "fourth", ALICE)).reply_text == "reply 1"
