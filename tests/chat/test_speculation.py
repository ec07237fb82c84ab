"""Replies written ahead (conversation.speculation): a turn of the same prompt takes the
events written and the rest as they come; any other prompt, or the speaker going on,
drops it and stops its generation; the tokens are counted as used or wasted."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from pathlib import Path

from prometheus_client import REGISTRY

from voice_worker.auth.principal import ANONYMOUS
from voice_worker.chat.base import (
    ChatEnd,
    ChatEvent,
    ChatMessage,
    ChatOptions,
    ChatProvider,
    TextDelta,
)
from voice_worker.chat.local import LocalChat
from voice_worker.chat.settings import ChatSettings
from voice_worker.conversation.engine import VoiceChatEngine
from voice_worker.conversation.speculation import Ask, Speculation, Speculations
from voice_worker.conversation.turn import Heard
from voice_worker.store.base import SessionSettings
from voice_worker.store.sql import open_store
from voice_worker.stt.base import Transcript
from voice_worker.tts.base import SpeechOptions, SpeechPiece

ASK = Ask((ChatMessage("system", "Be brief."), ChatMessage("user", "Hello")), ChatOptions())
OTHER = Ask((ChatMessage("system", "Be brief."), ChatMessage("user", "Hello there")), ChatOptions())


def tokens(outcome: str) -> float:
    value = REGISTRY.get_sample_value("voice_worker_speculative_tokens_total", {"outcome": outcome})
    return value or 0.0


class Paced:
    """A chat that writes one word each time `go` is set, and says whether it was closed."""

    def __init__(self, words: list[str]) -> None:
        self.words, self.go, self.closed, self.asked = words, asyncio.Event(), False, 0

    async def write(self, ask: Ask) -> AsyncGenerator[ChatEvent, None]:
        self.asked += 1
        try:
            for word in self.words:
                await self.go.wait()
                self.go.clear()
                yield TextDelta(word)
            yield ChatEnd("fake", {"completion_tokens": len(self.words)})
        finally:
            self.closed = True


async def written(speculation: Speculation) -> None:
    """Until it has written something."""
    for _ in range(1000):
        if speculation.events:
            return
        await asyncio.sleep(0)
    raise AssertionError("nothing was written")


async def prepared(ask: Ask) -> Ask:
    return ask


async def test_the_same_prompt_takes_what_was_written_and_the_rest() -> None:
    chat, ahead = Paced(["One ", "two ", "three."]), Speculations()
    used = tokens("used")
    speculation = ahead.start("s1", lambda: prepared(ASK), chat.write)
    chat.go.set()
    await written(speculation)
    taken = await ahead.take("s1", ASK)
    assert taken is not None and len(ahead) == 0
    got: list[ChatEvent] = []
    async for event in taken:
        got.append(event)
        chat.go.set()  # the rest is written as the turn reads
    assert got[:3] == [TextDelta("One "), TextDelta("two "), TextDelta("three.")]
    assert isinstance(got[-1], ChatEnd) and chat.asked == 1
    assert tokens("used") == used + 3


async def test_a_taken_reply_closed_unread_stops_its_generation() -> None:
    """A turn cancelled before it read the reply it took: the generation stops anyway."""
    chat, ahead = Paced(["One ", "two ", "three."]), Speculations()
    used = tokens("used")
    speculation = ahead.start("s1", lambda: prepared(ASK), chat.write)
    chat.go.set()
    await written(speculation)
    taken = await ahead.take("s1", ASK)
    assert taken is not None
    await taken.aclose()
    assert chat.closed and speculation.outcome == "used"
    assert tokens("used") == used + 1


async def test_another_prompt_drops_it_and_stops_its_generation() -> None:
    chat, ahead = Paced(["One ", "two ", "three."]), Speculations()
    wasted = tokens("wasted")
    speculation = ahead.start("s1", lambda: prepared(ASK), chat.write)
    chat.go.set()
    await written(speculation)
    assert await ahead.take("s1", OTHER) is None
    assert chat.closed  # stopped before take returned: the model is free for the turn
    assert tokens("wasted") == wasted + 1
    assert await ahead.take("s1", ASK) is None  # gone


async def test_the_speaker_going_on_drops_it_at_once() -> None:
    chat, ahead = Paced(["One ", "two."]), Speculations()
    wasted = tokens("wasted")
    speculation = ahead.start("s1", lambda: prepared(ASK), chat.write)
    await asyncio.sleep(0.01)
    speculation.cancel()
    await speculation.stopped()
    assert chat.closed and speculation.events == []
    assert tokens("wasted") == wasted  # nothing was written yet
    assert await ahead.take("s1", ASK) is None
    # a new one for the session replaces the old
    first = ahead.start("s2", lambda: prepared(ASK), Paced(["A."]).write)
    second = ahead.start("s2", lambda: prepared(OTHER), chat.write)
    await first.stopped()
    assert first.outcome == "wasted" and second.outcome is None and len(ahead) == 1
    second.cancel()


class Silent:
    """A speaker that reads the reply and says nothing: the chat alone is checked."""

    async def stream_text(
        self, texts: AsyncIterator[str], options: SpeechOptions
    ) -> AsyncGenerator[SpeechPiece, None]:
        async for _ in texts:
            pass
        return
        yield

    async def speak_known(
        self, text: str, options: SpeechOptions
    ) -> AsyncGenerator[SpeechPiece, None]:
        return
        yield


class Counted:
    """The chat provider, with the calls made to it counted."""

    def __init__(self, chat: ChatProvider) -> None:
        self.chat, self.name, self.calls = chat, chat.name, 0

    def stream(
        self, messages: Sequence[ChatMessage], options: ChatOptions
    ) -> AsyncGenerator[ChatEvent, None]:
        self.calls += 1
        return self.chat.stream(messages, options)


def said(text: str) -> Heard:
    return Heard(Transcript(text, duration=2.0), seconds=0.3)


async def test_a_turn_takes_the_local_models_reply_written_ahead(tmp_path: Path) -> None:
    """Through the engine and its store, SmolLM2 at temperature 0: a turn of the words a
    reply was written ahead for takes it (the model is asked once) and says what it says
    without it; a reply written ahead for other words is dropped and the turn asks."""
    store = await open_store(f"sqlite:///{tmp_path / 'ahead.db'}")
    local = LocalChat()
    chat = Counted(local)
    settings = ChatSettings(max_tokens=40, temperature=0.0)
    engine = VoiceChatEngine(store, chat, Silent(), settings)
    question = "What is the capital of France?"
    try:
        replies, calls = [], []
        for ahead in ("same", "other", None):
            record = await store.create_session(SessionSettings())
            await engine.process_text_only(record.id, "Hello there!", ANONYMOUS)  # a history
            asked, speculation = chat.calls, None
            if ahead is not None:
                text = question if ahead == "same" else "What is the capital of Spain?"
                speculation = engine.speculate(record, said(text))
                assert speculation is not None
            result = await engine.collect(engine.begin_heard(record, said(question)))
            replies.append(result.reply_text)
            calls.append(chat.calls - asked)
            if speculation is not None:
                assert speculation.outcome == ("used" if ahead == "same" else "wasted")
            messages = await store.recent_messages(record.id, 10)
            assert [m.text for m in messages][2:] == [question, result.reply_text]
    finally:
        await local.close()
        await store.close()
    assert calls == [1, 2, 1]  # taken; dropped, then asked; asked
    assert replies[0] == replies[1] == replies[2] and replies[0]
