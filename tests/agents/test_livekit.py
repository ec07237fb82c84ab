"""LiveKit Agents' OpenAI realtime client, unchanged (`openai.realtime.RealtimeModel()
.session()`), driven as its AgentActivity drives it: audio pushed in, `interrupt()` on
the server's `input_speech_started`, each generation's message and audio streams read,
and the reply truncated where its playback stopped (`truncate`, which deletes the item
when none of it was played). A spoken turn, a barge-in, a truncation and a deletion,
without an `error` the client surfaces, and its copy of the conversation in the
server's order."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from livekit import rtc
from livekit.agents import llm
from livekit.plugins import openai

from tests.agents.conftest import Stack
from tests.agents.support import RATE, Microphone, heard, seconds, until, words

QUESTION = "What time is it in Tokyo right now?"
CANCEL_FAILED = "Cancellation failed: no active response found"


@dataclass
class Generation:
    """One generation as the agent plays it: its message id, text and audio."""

    message_id: str = ""
    text: str = ""
    audio: bytearray = field(default_factory=bytearray)
    done: asyncio.Event = field(default_factory=asyncio.Event)


async def play(event: Any, generation: Generation) -> None:
    async def read_text(stream: Any) -> None:
        async for piece in stream:
            generation.text += str(piece)

    async def read_audio(stream: Any) -> None:
        async for frame in stream:
            generation.audio += bytes(frame.data)

    async for message in event.message_stream:
        generation.message_id = message.message_id
        await asyncio.gather(read_text(message.text_stream), read_audio(message.audio_stream))
    generation.done.set()


def pushing(session: Any) -> Callable[[bytes], Awaitable[None]]:
    """The microphone's frames into the session, as AgentActivity pushes them."""

    async def push(chunk: bytes) -> None:
        session.push_audio(rtc.AudioFrame(chunk, RATE, 1, len(chunk) // 2))

    return push


async def test_a_conversation_with_a_barge_in(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    stack.scenario("plain")
    model = openai.realtime.RealtimeModel(base_url=f"{stack.worker}/v1", api_key="not-needed")
    session = model.session()
    raw: list[dict[str, Any]] = []
    errors: list[Any] = []
    generations: list[Generation] = []
    tasks: list[asyncio.Task[None]] = []

    def created(event: Any) -> None:
        generations.append(Generation())
        tasks.append(asyncio.create_task(play(event, generations[-1])))

    session.on("openai_server_event_received", raw.append)
    session.on("error", errors.append)
    session.on("input_speech_started", lambda _: session.interrupt())  # as AgentActivity
    session.on("generation_created", created)

    def of(kind: str) -> list[dict[str, Any]]:
        return [e for e in raw if e["type"] == kind]

    try:
        await session.update_instructions("Be brief.")
        await session.update_chat_ctx(llm.ChatContext.empty())
        async with Microphone(pushing(session)) as microphone:
            # a spoken turn
            await microphone.say(stack.pcm("question"))
            await until(lambda: len(of("response.done")) == 1)
            await asyncio.wait_for(generations[0].done.wait(), 10)
            first = generations[0]
            assert first.text == "Hello from Venice." and seconds(bytes(first.audio)) > 0.5
            assert words(await heard(stack.worker, bytes(first.audio))) == words(first.text)
            # a long reply, spoken over after a second of it
            stack.scenario("long")
            await microphone.say(stack.pcm("question"))
            await until(lambda: len(generations) == 2 and len(generations[1].audio) > RATE * 2)
            stack.scenario("plain")
            await microphone.say(stack.pcm("jfk")[: RATE * 2 * 3])
            await until(lambda: len(of("response.done")) >= 2)
            await asyncio.wait_for(generations[1].done.wait(), 10)
            interrupted = generations[1]
            session.truncate(  # the player had played half a second of it
                message_id=interrupted.message_id,
                modalities=["audio", "text"],
                audio_end_ms=500,
                audio_transcript=interrupted.text,
            )
            await until(lambda: len(of("conversation.item.truncated")) == 1)
            await until(lambda: len(of("response.done")) == 3, timeout=90)
            await asyncio.wait_for(generations[2].done.wait(), 10)
            # the last reply was never played: LiveKit deletes it
            last = generations[2]
            session.truncate(message_id=last.message_id, modalities=["audio"], audio_end_ms=0)
            await until(lambda: len(of("conversation.item.deleted")) == 1)
        remote = [item.id for item in session.chat_ctx.items]
    finally:
        for task in tasks:
            task.cancel()
        await session.aclose()
        await model.aclose()
    assert errors == []
    for error in of("error"):  # only the race LiveKit silences: OpenAI's words
        assert error["error"]["message"] == CANCEL_FAILED, error
    assert not [r for r in caplog.records if "failed to insert item" in r.getMessage()]
    dones = [e["response"] for e in of("response.done")]
    assert [d["status"] for d in dones] == ["completed", "cancelled", "completed"]
    assert of("conversation.item.truncated")[0]["item_id"] == interrupted.message_id
    assert of("conversation.item.deleted")[0]["item_id"] == last.message_id
    # LiveKit's copy of the conversation: every item, in the server's order
    added = [e["item"]["id"] for e in of("conversation.item.added")]
    assert remote == [i for i in added if i != last.message_id]
    session_id = of("session.created")[0]["session"]["id"]
    stored = stack.history(session_id)
    assert [role for role, _ in stored] == ["user", "assistant"] * 3
    assert words(stored[0][1]) == words(QUESTION) and stored[1][1] == "Hello from Venice."
    long_reply = "Sentence number 0 keeps the voice busy for a while."
    assert stored[3][1] and long_reply.startswith(stored[3][1])  # half a second of it
    assert "fellow" in words(stored[4][1])
    assert stored[5][1] == ""  # deleted: heard not at all
