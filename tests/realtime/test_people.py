"""A person who pauses mid-thought, through the official `openai` SDK's realtime client:
one thought of harness/people.py's corpus (three pauses of 0.6-1.0 s, after "and", after
"so" and after an "um") streamed as a microphone streams it (20 ms frames on the wall
clock, then the room's silence), and what the worker makes of it: the events, and the
stored history."""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any

import httpx
import pytest
from openai.types.realtime import RealtimeSessionCreateRequestParam

from harness.people import Spoken, corpus
from harness.processes import word_error_rate
from tests.realtime.conftest import Worker
from tests.realtime.support import FRAME, SILENCE_FRAME, recv

pytestmark = pytest.mark.slow
THOUGHT = "sister/us-male/clean"  # "My sister is coming ... and / she likes ... so / um / ..."


def thought() -> Spoken:
    return next(t.spoken for t in corpus() if t.name == THOUGHT)


def session(turn_detection: Any) -> RealtimeSessionCreateRequestParam:
    return {"type": "realtime", "audio": {"input": {"turn_detection": turn_detection}}}


async def converse(worker: Worker, turn_detection: dict[str, Any]) -> tuple[list[Any], str, float]:
    """The thought said at real-time pace, then silence until a response completes after
    the end of speech: the events as (arrival, event), the session's id, the wall time
    of the end of speech (sample t was captured at the first frame's time + t)."""
    spoken = thought()
    async with worker.sdk().realtime.connect(model="gpt-realtime") as connection:
        session_id = (await recv(connection)).session.model_dump()["id"]
        await connection.session.update(session=session(turn_detection))
        seen: list[Any] = []
        started = time.perf_counter()

        async def microphone() -> None:
            pcm, tick = spoken.pcm, 0
            while True:
                frame = pcm[tick * FRAME : (tick + 1) * FRAME] or SILENCE_FRAME
                tick += 1
                await asyncio.sleep(max(0.0, started + tick * 0.02 - time.perf_counter()))
                await connection.input_audio_buffer.append(audio=base64.b64encode(frame).decode())

        async def listen() -> None:
            while True:
                event = await recv(connection)
                seen.append((time.perf_counter(), event))
                if event.type == "error":
                    raise AssertionError(event.error)
                done = event.type == "response.done" and event.response.status == "completed"
                if done and seen[-1][0] > end:
                    return

        mic = asyncio.create_task(microphone())
        end = started + spoken.speech_end_s
        try:
            await asyncio.wait_for(listen(), 90)
        finally:
            mic.cancel()
            await asyncio.gather(mic, return_exceptions=True)
    return seen, session_id, end


async def history(worker: Worker, session_id: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=worker.url, timeout=10) as client:
        page = await client.get(f"/api/voice/sessions/{session_id}/messages")
    items: list[dict[str, Any]] = page.json()["items"]
    return items


def responses(seen: list[Any]) -> dict[str, dict[str, Any]]:
    """Each response by id: when it was created, the audio it sent (bytes, and how much
    before `end`), and how it ended."""
    out: dict[str, dict[str, Any]] = {}
    for at, event in seen:
        if event.type == "response.created":
            out[event.response.id] = {"created": at, "audio": 0, "done": None}
        elif event.type == "response.output_audio.delta":
            out[event.response_id]["audio"] += len(base64.b64decode(event.delta))
        elif event.type == "response.done":
            out[event.response.id]["done"] = event.response
    return out


def talk_over(seen: list[Any], end: float) -> int:
    """Bytes of response audio that arrived while the person was still speaking."""
    return sum(
        len(base64.b64decode(e.delta))
        for at, e in seen
        if e.type == "response.output_audio.delta" and at < end
    )


async def test_server_vad_500_ends_the_turn_at_each_long_pause_and_says_so(
    worker: Worker, venice: Any
) -> None:
    """OpenAI's default window is shorter than the pauses: each pause ends the turn and
    starts a response, which the person's next words cancel (turn_detected). What
    reached the person before the cancel is stored as an interrupted turn; a response
    of which nothing went out stores nothing, and its words wait for the next: so the
    stored user messages are one, plus one for each early response that spoke."""
    spoken = thought()
    seen, session_id, end = await converse(
        worker, {"type": "server_vad", "silence_duration_ms": 500}
    )
    kinds = [e.type for _, e in seen]
    assert kinds.count("input_audio_buffer.committed") >= 2  # the thought cut at a pause
    by_id = responses(seen)
    early = [r for r in by_id.values() if r["created"] < end]
    final = [r for r in by_id.values() if r["created"] >= end]
    assert early, "no response started at a pause"
    for response in early:
        assert response["done"].status == "cancelled"
        assert response["done"].status_details.reason == "turn_detected"
    assert len(final) == 1 and final[0]["done"].status == "completed"
    spoke = sum(r["audio"] > 0 for r in early)
    stored = await history(worker, session_id)
    users = [m["text"] for m in stored if m["role"] == "user"]
    assert len(users) == 1 + spoke, (users, spoke)
    assert [m["role"] for m in stored][-1] == "assistant"
    assert word_error_rate(spoken.text, " ".join(users)) <= 0.5, users


async def test_semantic_vad_waits_for_the_end_of_the_thought(worker: Worker, venice: Any) -> None:
    """A pause after "so" or after an "um" is not the end of a thought (the words trail
    off). Its first part is a whole sentence when Whisper drops the "and" after it
    ("My sister is coming to visit next weekend."), where a response may start; the
    person going on cancels it before any audio (turn_detected). No talk-over, one
    completed response after the end, and the history holds one user message for the
    thought, then the reply."""
    spoken = thought()
    seen, session_id, end = await converse(worker, {"type": "semantic_vad", "eagerness": "low"})
    by_id = responses(seen)
    early = [r for r in by_id.values() if r["created"] < end]
    final = [r for r in by_id.values() if r["created"] >= end]
    assert len(early) <= 1, early  # at most the whole first sentence
    for response in early:
        assert response["done"].status_details.reason == "turn_detected"
        assert response["audio"] == 0
    assert len(final) == 1 and final[0]["done"].status == "completed"
    assert talk_over(seen, end) == 0
    stored = await history(worker, session_id)
    assert [m["role"] for m in stored] == ["user", "assistant"]
    assert word_error_rate(spoken.text, stored[0]["text"]) <= 0.5, stored[0]["text"]
