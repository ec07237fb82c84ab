"""Replies written ahead (realtime/ahead.py, conversation.speculation), through the
official SDK over a real port: while the VAD waits out the silence window, the reply
to the early transcript is written; the user going on leaves no trace of it (no event,
one user message stored, its tokens counted as wasted), and a real end takes it (no
second chat call, its tokens counted as used)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from harness.processes import JFK_TRANSCRIPT, word_error_rate
from tests.metrics import Scrape
from tests.realtime.conftest import Worker
from tests.realtime.support import RATE, frames, jfk_pcm, of_type, recv, silence, until
from tests.realtime.test_conversation import VAD_OVER_JFK, audio_of, heard, history, text_of
from voice_worker.stt.local import LocalWhisperSTT

pytestmark = pytest.mark.slow
TOKENS = "voice_worker_speculative_tokens_total"
FIRST_PHRASE = int(RATE * 2.6) * 2  # "And so my fellow Americans," and 0.6 s of its pause


@pytest.fixture(scope="module")
def ear() -> LocalWhisperSTT:
    return LocalWhisperSTT()


async def counted(worker: Worker) -> dict[str, float]:
    async with httpx.AsyncClient(base_url=worker.url, timeout=10) as client:
        scrape = Scrape((await client.get("/metrics")).text)
    return {outcome: scrape.value(TOKENS, outcome=outcome) for outcome in ("used", "wasted")}


async def chat_called(venice: Any, times: int, timeout: float = 60.0) -> None:
    """Until the fake chat model has been asked `times` times in all."""
    for _ in range(int(timeout / 0.02)):  # the fake runs on a thread of its own
        if len(venice.requests) >= times:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"the chat model was asked {len(venice.requests)} times, not {times}")


def last_user(request: dict[str, Any]) -> str:
    return str(request["messages"][-1]["content"])


async def send(connection: Any, pcm: bytes) -> None:
    for frame in frames(pcm):
        await connection.input_audio_buffer.append(audio=frame)


async def test_a_pause_then_more_words_leaves_no_trace(worker: Worker, venice: Any) -> None:
    before, asked = await counted(worker), len(venice.requests)
    async with worker.sdk().realtime.connect(model="gpt-realtime") as connection:
        session_id = (await recv(connection)).session.model_dump()["id"]
        await connection.session.update(session=VAD_OVER_JFK)  # a 1.5 s silence window
        await until(connection, of_type("session.updated"))
        await send(connection, jfk_pcm()[:FIRST_PHRASE])  # a pause shorter than the window
        await chat_called(venice, asked + 1)  # the reply to "my fellow Americans" is written
        ahead = venice.requests[asked]
        await send(connection, jfk_pcm()[FIRST_PHRASE:] + silence(2.0))  # they go on
        seen: list[Any] = []
        done = await until(connection, of_type("response.done"), seen)
    kinds = [e.type for e in seen]
    assert "error" not in kinds
    assert kinds.count("response.created") == 1 and done.response.status == "completed"
    # the response before it: the speech and the commit, no trace of a reply
    before_response = kinds[: kinds.index("response.created")]
    assert not [k for k in before_response if k.startswith("response.")], before_response
    said = next(e for e in seen if e.type.endswith("input_audio_transcription.completed"))
    assert word_error_rate(JFK_TRANSCRIPT, said.transcript) <= 0.15, said.transcript
    partial = last_user(ahead)
    assert 0 < len(partial) < len(said.transcript) and "fellow" in partial, partial
    # the response asked the chat model itself, about all of it
    assert len(venice.requests) == asked + 2
    assert last_user(venice.requests[-1]) == said.transcript
    assert await history(worker, session_id) == [said.transcript, "Hello from Venice."]
    after = await counted(worker)
    assert after["wasted"] >= before["wasted"] + 2  # the two deltas of the dropped reply
    assert after["used"] == before["used"]


async def test_a_real_end_takes_the_reply_written_ahead(
    worker: Worker, venice: Any, ear: LocalWhisperSTT
) -> None:
    before, asked = await counted(worker), len(venice.requests)
    async with worker.sdk().realtime.connect(model="gpt-realtime") as connection:
        session_id = (await recv(connection)).session.model_dump()["id"]
        await connection.session.update(session=VAD_OVER_JFK)
        await until(connection, of_type("session.updated"))
        await send(connection, jfk_pcm() + silence(0.6))  # silent, the window not over
        await chat_called(venice, asked + 1)
        ahead = venice.requests[asked]
        await send(connection, silence(1.5))  # the window runs out: the turn ends
        seen: list[Any] = []
        done = await until(connection, of_type("response.done"), seen)
    kinds = [e.type for e in seen]
    assert "error" not in kinds and done.response.status == "completed"
    said = next(e for e in seen if e.type.endswith("input_audio_transcription.completed"))
    assert word_error_rate(JFK_TRANSCRIPT, said.transcript) <= 0.15, said.transcript
    assert len(venice.requests) == asked + 1  # no second chat call: it took the first
    assert last_user(ahead) == said.transcript
    assert [m["role"] for m in ahead["messages"]] == ["system", "user"]
    reply = text_of(seen)
    assert reply == "Hello from Venice."
    assert word_error_rate(reply, await heard(ear, audio_of(seen))) <= 0.15
    assert await history(worker, session_id) == [said.transcript, reply]
    after = await counted(worker)
    assert after["used"] == before["used"] + 2  # the reply's two deltas
