"""openai-agents' `RealtimeRunner`, unchanged, against the worker: a spoken turn, then
a barge-in (the worker cancels the reply on speech; the SDK truncates the item where
its audio stopped and retrieves it, as it does after every transcription), and the
turn after it, without a single `error` event."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from agents.realtime import RealtimeAgent, RealtimeRunner

from tests.agents.conftest import Stack
from tests.agents.support import RATE, Microphone, heard, seconds, until, words

QUESTION = "What time is it in Tokyo right now?"


class Events:
    """A session's events as they come (a reader task), and the server's raw ones."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.seen: list[Any] = []
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for event in self.session:
            self.seen.append(event)

    @property
    def raw(self) -> list[dict[str, Any]]:
        """The server's events as the SDK received them."""
        return [
            e.data.data
            for e in self.seen
            if e.type == "raw_model_event" and e.data.type == "raw_server_event"
        ]

    def raw_of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.raw if e["type"] == kind]

    def audio(self, after: int = 0) -> bytes:
        return b"".join(e.audio.data for e in self.seen[after:] if e.type == "audio")

    async def until(self, done: Callable[[], bool], timeout: float = 60.0) -> None:
        await until(lambda: done() or self.task.done(), timeout)
        if not done():
            self.task.result()  # the reader's failure, if it failed
            raise AssertionError("the session ended")


async def test_a_conversation_with_a_barge_in(stack: Stack) -> None:
    stack.scenario("plain")
    runner = RealtimeRunner(RealtimeAgent(name="Assistant", instructions="Be brief."))
    url = f"{stack.realtime_url}?model=gpt-realtime"
    session = await runner.run(model_config={"url": url, "api_key": "not-needed"})
    async with session, Microphone(session.send_audio) as microphone:
        events = Events(session)
        # a spoken turn, answered
        await microphone.say(stack.pcm("question"))
        await events.until(lambda: len(events.raw_of("response.done")) == 1)
        first = events.raw_of("response.done")[0]["response"]
        assert first["status"] == "completed"
        reply = events.audio()
        assert len(reply) / (RATE * 2) > 0.5
        assert words(await heard(stack.worker, reply)) == words("Hello from Venice.")
        await asyncio.sleep(seconds(reply))  # the user hears it out (the SDK's playback clock)
        # a long reply, and the user speaks over it
        stack.scenario("long")
        await microphone.say(stack.pcm("question"))
        mark = len(events.seen)
        await events.until(lambda: len(events.audio(mark)) > RATE * 2)  # a second of it
        stack.scenario("plain")  # what the turn after the barge-in gets
        await microphone.say(stack.pcm("jfk")[: RATE * 2 * 3])
        await events.until(lambda: len(events.raw_of("response.done")) >= 3, timeout=90)
        await events.until(lambda: len(events.raw_of("conversation.item.retrieved")) >= 2)
        events.task.cancel()
    session_id = events.raw_of("session.created")[0]["session"]["id"]
    errors = [e for e in events.seen if e.type == "error"]
    assert errors == [] and events.raw_of("error") == []
    cancelled = events.raw_of("response.done")[1]["response"]
    assert cancelled["status"] == "cancelled"
    assert cancelled["status_details"]["reason"] == "turn_detected"
    interrupted = cancelled["output"][0]["id"]
    assert interrupted in [e.item_id for e in events.seen if e.type == "audio_interrupted"]
    truncated = events.raw_of("conversation.item.truncated")
    assert interrupted in [t["item_id"] for t in truncated], truncated
    retrieved = {e["item"]["id"]: e["item"] for e in events.raw_of("conversation.item.retrieved")}
    assert retrieved[interrupted]["role"] == "assistant"
    assert retrieved[interrupted]["status"] == "incomplete"
    assert events.raw_of("response.done")[2]["response"]["status"] == "completed"
    # the stored history: three turns, the interrupted reply as far as it was heard
    stored = stack.history(session_id)
    assert [role for role, _ in stored] == ["user", "assistant"] * 3
    assert words(stored[0][1]) == words(QUESTION) and stored[1][1] == "Hello from Venice."
    long_reply = "Sentence number 0 keeps the voice busy for a while."
    said = retrieved[interrupted]["content"][0]["transcript"]
    assert stored[3][1] == said and long_reply.startswith(said.split(" Sentence")[0])
    assert "fellow" in words(stored[4][1]) and stored[5][1] == "Hello from Venice."
