"""Replies written ahead (conversation.speculation): a turn of the same prompt takes the
events written and the rest as they come; any other prompt, or the speaker going on,
drops it and stops its generation; the tokens are counted as used or wasted."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

from prometheus_client import REGISTRY

from voice_worker.chat.base import ChatEnd, ChatEvent, ChatMessage, ChatOptions, TextDelta
from voice_worker.conversation.speculation import Ask, Speculation, Speculations

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
