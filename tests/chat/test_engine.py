"""VoiceChatEngine: history in the prompt, thinking never spoken, the response cache,
and failures in the middle of a turn that leave no half turn behind."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import pytest

from shared.audio.formats import AudioFormat
from shared.cache.memory import MemoryCache
from tests.chat.fakes import RecordingTTS, ScriptedChat
from voice_worker.auth.principal import ANONYMOUS
from voice_worker.chat.base import ChatReply
from voice_worker.chat.cache import ResponseCache
from voice_worker.chat.settings import ChatSettings
from voice_worker.conversation.engine import VoiceChatEngine
from voice_worker.conversation.prompt import trim_history
from voice_worker.errors import (
    InvalidRequest,
    NotFound,
    UpstreamError,
    UpstreamFailed,
    UpstreamUnavailable,
)
from voice_worker.http.errors import http_status
from voice_worker.store.base import MessageRecord, SessionSettings
from voice_worker.store.sql import SqlStore, open_store


@pytest.fixture
async def sqlite_store(tmp_path: object) -> AsyncIterator[SqlStore]:
    store = await open_store(f"sqlite:///{tmp_path}/engine.db")
    yield store
    await store.close()


def engine(store: SqlStore, chat: ScriptedChat, tts: RecordingTTS, **kw: object) -> VoiceChatEngine:
    return VoiceChatEngine(store, chat, tts, ChatSettings(), **kw)  # type: ignore[arg-type]


async def test_history_persona_and_thinking(sqlite_store: SqlStore) -> None:
    chat = ScriptedChat([ChatReply("Four.", "two and two"), ChatReply("Five.")])
    tts = RecordingTTS()
    voice = engine(sqlite_store, chat, tts)
    settings = SessionSettings(analyst_role="analyst", audio_format=AudioFormat.WAV, speed=1.5)
    session = await sqlite_store.create_session(settings)
    first = await voice.process_text_only(session.id, "  What is two plus two?  ", ANONYMOUS)
    assert (first.reply_text, first.thinking, first.transcript) == ("Four.", "two and two", None)
    stages = {"chat_first_token", "chat", "first_audio", "tts_first_audio", "tts", "store"}
    assert set(first.timings) == {*stages, "total"}
    assert first.timings["chat_first_token"] <= first.timings["chat"] <= first.timings["total"]
    assert first.timings["first_audio"] <= first.timings["total"]
    await voice.process_text_only(session.id, "And plus one?", ANONYMOUS)
    second_prompt = chat.prompts[1]
    assert second_prompt[0].role == "system"
    assert second_prompt[0].content == ChatSettings().roles["analyst"]
    assert [(m.role, m.content) for m in second_prompt[1:]] == [
        ("user", "What is two plus two?"),
        ("assistant", "Four."),
        ("user", "And plus one?"),
    ]
    assert tts.spoken == ["Four.", "Five."]  # thinking never spoken
    assert tts.options[0].format is AudioFormat.WAV and tts.options[0].speed == 1.5
    stored = (await sqlite_store.list_messages(session.id)).items
    assert [m.text for m in stored] == ["What is two plus two?", "Four.", "And plus one?", "Five."]
    assert stored[1].thinking == "two and two" and stored[1].audio_format == "wav"
    assert stored[1].timings["chat"] >= 0


@pytest.mark.parametrize("stage", ["chat", "tts"])
async def test_a_failure_mid_turn_leaves_no_half_turn(sqlite_store: SqlStore, stage: str) -> None:
    chat = ScriptedChat([ChatReply("First answer.")])
    tts = RecordingTTS()
    voice = engine(sqlite_store, chat, tts)
    session = await sqlite_store.create_session(SessionSettings())
    await voice.process_text_only(session.id, "first question", ANONYMOUS)
    if stage == "chat":
        busy = UpstreamUnavailable("chat (venice)", "unavailable (HTTP 503: at capacity)")
        chat.replies.append(busy)
    else:
        tts.error = RuntimeError("model server crashed")
    with pytest.raises(UpstreamError) as caught:
        await voice.process_text_only(session.id, "second question", ANONYMOUS)
    if stage == "chat":
        assert http_status(caught.value)[0] == 503 and "venice" in caught.value.message
    else:
        assert isinstance(caught.value, UpstreamFailed) and http_status(caught.value)[0] == 502
        assert "text-to-speech" in caught.value.message
        assert "crashed" not in caught.value.message  # the cause is logged, not shown
    stored = (await sqlite_store.list_messages(session.id)).items
    assert [m.text for m in stored] == ["first question", "First answer."]


async def test_bad_input_is_a_clear_4xx(sqlite_store: SqlStore) -> None:
    limited = ChatSettings(max_input_chars=20)
    voice = VoiceChatEngine(sqlite_store, ScriptedChat(), RecordingTTS(), limited)
    session = await sqlite_store.create_session(SessionSettings(analyst_role="pirate"))
    with pytest.raises(NotFound, match="no voice chat session"):
        await voice.process_text_only("nope", "hi", ANONYMOUS)
    with pytest.raises(InvalidRequest, match="empty"):
        await voice.process_text_only(session.id, "   ", ANONYMOUS)
    with pytest.raises(InvalidRequest, match="at most 20"):
        await voice.process_text_only(session.id, "x" * 21, ANONYMOUS)
    with pytest.raises(InvalidRequest, match="unknown analyst role 'pirate'; valid roles"):
        await voice.process_text_only(session.id, "hi", ANONYMOUS)
    with pytest.raises(InvalidRequest, match="no speech-to-text"):
        await voice.process_message(session.id, b"RIFF", ANONYMOUS)


async def test_only_thinking_is_a_502(sqlite_store: SqlStore) -> None:
    voice = engine(sqlite_store, ScriptedChat([ChatReply("", "thinking forever")]), RecordingTTS())
    session = await sqlite_store.create_session(SessionSettings())
    with pytest.raises(UpstreamError, match="only thinking") as caught:
        await voice.process_text_only(session.id, "hi", ANONYMOUS)
    assert http_status(caught.value)[0] == 502
    assert (await sqlite_store.list_messages(session.id)).items == []


async def test_response_cache_hit(sqlite_store: SqlStore) -> None:
    chat = ScriptedChat([ChatReply("Cached answer.", "why")])
    cache = ResponseCache(MemoryCache(10), ttl_seconds=60)
    voice = engine(sqlite_store, chat, RecordingTTS(), response_cache=cache)
    session = await sqlite_store.create_session(SessionSettings())
    first = await voice.process_text_only(session.id, "same question", ANONYMOUS)
    second = await voice.process_text_only(session.id, "same question", ANONYMOUS)
    assert len(chat.prompts) == 1
    assert (first.cached, second.cached) == (False, True)
    assert (second.reply_text, second.thinking) == ("Cached answer.", "why")
    other = await sqlite_store.create_session(SessionSettings())
    await voice.process_text_only(
        other.id, "same question", ANONYMOUS
    )  # another conversation: a miss
    assert len(chat.prompts) == 2
    assert ResponseCache.key("a", "q", "r") != ResponseCache.key("a", "q", "s")


def test_history_trimmed_to_budgets() -> None:
    history = [
        MessageRecord(role="user" if i % 2 == 0 else "assistant", text="w" * 40, id=i)
        for i in range(10)
    ]
    assert [m.id for m in trim_history(history, 4, 10_000)] == [6, 7, 8, 9]
    assert [m.id for m in trim_history(history, 10, 30)] == [8, 9]  # 10 tokens each
    assert [m.id for m in trim_history(history, 3, 10_000)] == [8, 9]  # no orphan answer
    assert trim_history(history, 0, 10_000) == []


def test_history_window_moves_in_steps() -> None:
    """The prompt's start stays put for several turns (a local model reuses its cache)."""
    messages = [
        MessageRecord(role="user" if i % 2 == 0 else "assistant", text="w", id=i) for i in range(60)
    ]
    starts = []
    for total in range(20, 60, 2):  # one turn (two messages) at a time
        newest = messages[:total][-30:]  # what the engine fetches: budget + step
        kept = trim_history(newest, 20, 10_000, total=total)
        assert 10 <= len(kept) <= 20 and kept[-1].id == total - 1
        starts.append(kept[0].id)
    assert sorted(set(starts)) == [0, 10, 20, 30, 40]  # it moves every 5th turn only
    assert starts[:6] == [0, 10, 10, 10, 10, 10]


def test_the_token_budget_also_moves_the_window_in_steps() -> None:
    """Long replies: the token budget, not the message count, decides the start, and it
    still moves only from one step to the next, so most turns keep the prompt's start."""
    messages = [
        MessageRecord(role="user" if i % 2 == 0 else "assistant", text="w" * 400, id=i)
        for i in range(80)
    ]  # 100 tokens each
    starts = []
    for total in range(12, 80, 2):
        newest = messages[:total][-30:]
        kept = trim_history(newest, 20, 1000, total=total)
        assert sum(len(m.text) // 4 for m in kept) <= 1000 and kept[-1].id == total - 1
        starts.append(kept[0].id)
    assert all(start % 10 == 0 for start in starts)  # aligned to the step
    changes = sum(a != b for a, b in itertools.pairwise(starts))
    assert changes <= len(starts) // 4  # the start holds for several turns at a time
