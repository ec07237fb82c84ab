"""Turn detection as a person meets it, through the official `openai` SDK on a real
worker: a thought said with mid-sentence pauses in noise, streamed as a microphone does
(20 ms frames on the wall clock, then more noise). With `semantic_vad` it is one turn,
answered once after the speech ended; with server VAD at OpenAI's 500 ms each pause
ends a turn, the responses started on them are cancelled before any audio, and the
stored history still holds one user message for the thought. Eagerness changes how
soon a finished sentence ends; the committed transcript keeps a soft ending."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from harness import people
from tests.realtime.conftest import Worker
from tests.realtime.support import frames, jfk_pcm, of_type, recv, silence, until
from tests.realtime.test_conversation import history

pytestmark = pytest.mark.slow
#: smart-turn hears this voice's pauses as unfinished (p <= 0.3) and its end as finished
THOUGHT = dict(people.THOUGHTS)["rain"]  # "So what I am wondering is / um / whether ..."
VOICE = next(v for v in people.VOICES if v.name == "us-male")


def detection(kind: str, **fields: Any) -> Any:
    return {"type": "realtime", "audio": {"input": {"turn_detection": {"type": kind, **fields}}}}


def thought() -> people.Spoken:
    return people.speak(THOUGHT, (0.9, 0.7), VOICE, snr_db=20.0, trailing_s=3.0)


async def talk(connection: Any, pcm: bytes, speech_end_s: float) -> float:
    """`pcm` in 20 ms frames on the wall clock; when the frame where the speech ends
    was sent (the loop's clock)."""
    loop = asyncio.get_running_loop()
    start, ended = loop.time(), 0.0
    for i, frame in enumerate(frames(pcm)):
        await asyncio.sleep(max(0.0, start + i * 0.02 - loop.time()))
        await connection.input_audio_buffer.append(audio=frame)
        if not ended and i * 0.02 >= speech_end_s:
            ended = loop.time()
    return ended


async def listen(connection: Any, last: str, seen: list[tuple[float, Any]]) -> None:
    """Events with the time they came, up to `last`."""
    loop = asyncio.get_running_loop()
    while True:
        event = await connection.recv()
        seen.append((loop.time(), event))
        if event.type == last:
            return


async def converse(
    worker: Worker, session: Any, spoken: people.Spoken, last: str, count: int = 1
) -> tuple[str, list[tuple[float, Any]], float]:
    """A connection that hears `spoken` in real time until `count` `last` events; its
    session id, the events (timed) and when the speech ended."""
    async with worker.sdk().realtime.connect(model="gpt-realtime") as connection:
        session_id = (await recv(connection)).session.model_dump()["id"]
        await connection.session.update(session=session)
        await until(connection, of_type("session.updated"))
        seen: list[tuple[float, Any]] = []

        async def hear_all() -> None:
            for _ in range(count):
                await listen(connection, last, seen)

        ended, _ = await asyncio.wait_for(
            asyncio.gather(talk(connection, spoken.pcm, spoken.speech_end_s), hear_all()), 90
        )
    return session_id, seen, ended


def of(seen: list[tuple[float, Any]], kind: str) -> list[tuple[float, Any]]:
    return [(t, e) for t, e in seen if e.type == kind]


async def test_semantic_vad_waits_for_the_end_of_a_thought(worker: Worker, venice: Any) -> None:
    spoken = thought()
    session = detection("semantic_vad", eagerness="medium")
    session_id, seen, ended = await converse(worker, session, spoken, "response.done")
    assert len(of(seen, "input_audio_buffer.committed")) == 1
    assert len(of(seen, "input_audio_buffer.speech_started")) == 1
    [(_, stopped)] = of(seen, "input_audio_buffer.speech_stopped")
    assert stopped.audio_end_ms >= spoken.speech_end_s * 1000
    [(created_at, _)] = of(seen, "response.created")
    assert created_at >= ended  # nothing started before the person had finished
    [(_, done)] = of(seen, "response.done")
    assert done.response.status == "completed"
    [(_, said)] = of(seen, "conversation.item.input_audio_transcription.completed")
    assert {"wondering", "rain"} <= set(people_words(said.transcript)), said.transcript
    assert await history(worker, session_id) == [said.transcript, "Hello from Venice."]


def people_words(text: str) -> list[str]:
    return [w.strip(".,?!").lower() for w in text.split()]


async def test_server_vad_ends_a_turn_at_each_pause_and_the_history_joins_them(
    worker: Worker, venice: Any
) -> None:
    venice.scenario = "slow"  # the reply starts after 1.5 s: each pause's is cancelled first
    spoken = thought()
    session = detection("server_vad", silence_duration_ms=500)
    session_id, seen, _ = await converse(worker, session, spoken, "response.done", count=3)
    assert len(of(seen, "input_audio_buffer.committed")) == 3  # the contrast: split
    dones = [e for _, e in of(seen, "response.done")]
    assert [d.response.status for d in dones] == ["cancelled", "cancelled", "completed"]
    assert {d.response.status_details.reason for d in dones[:2]} == {"turn_detected"}
    kinds = [e.type for _, e in seen]
    last_created = len(kinds) - 1 - kinds[::-1].index("response.created")
    assert "response.output_audio.delta" not in kinds[:last_created]  # no talk-over
    said = [
        e.transcript for _, e in of(seen, "conversation.item.input_audio_transcription.completed")
    ]
    stored = await history(worker, session_id)
    assert len(stored) == 2 and stored[1] == "Too late."  # one user message for the thought
    assert people_words(stored[0]) == people_words(" ".join(said))
    assert {"wondering", "rain"} <= set(people_words(stored[0]))


async def stopped_at(worker: Worker, session: Any, pcm: bytes) -> tuple[list[Any], str]:
    """The speech_stopped events of `pcm` sent at once, and the first transcript."""
    async with worker.sdk().realtime.connect(model="gpt-realtime") as connection:
        await recv(connection)
        await connection.session.update(session=session)
        for frame in frames(pcm):
            await connection.input_audio_buffer.append(audio=frame)
        seen: list[Any] = []
        said = await until(
            connection, of_type("conversation.item.input_audio_transcription.completed"), seen
        )
    return [e for e in seen if e.type == "input_audio_buffer.speech_stopped"], said.transcript


async def test_a_finished_sentence_ends_sooner_when_eager(worker: Worker, venice: Any) -> None:
    # "And so my fellow Americans", the pause after it in noise
    pcm = jfk_pcm()[: 3000 * 48] + people.noise(0.003, 24_000 * 3, seed=1)
    ends = {}
    for eagerness in ("high", "low"):
        session = detection("semantic_vad", eagerness=eagerness, create_response=False)
        stopped, said = await stopped_at(worker, session, pcm)
        assert len(stopped) == 1
        ends[eagerness] = stopped[0].audio_end_ms
    assert 2100 < ends["high"] < ends["low"] < 2100 + 8000, ends
    assert "Americans" in said  # low: the transcript covers the soft ending


async def test_the_committed_transcript_keeps_a_soft_ending(worker: Worker, venice: Any) -> None:
    pcm = jfk_pcm() + silence(1.0)
    for session in (
        detection("server_vad", silence_duration_ms=500, create_response=False),
        detection("semantic_vad", create_response=False),
    ):
        stopped, said = await stopped_at(worker, session, pcm)
        assert "fellow Americans" in said, (session, said)  # not "fellow America."
        assert stopped


async def test_session_updated_echoes_semantic_vad(worker: Worker, venice: Any) -> None:
    async with worker.sdk().realtime.connect(model="gpt-realtime") as connection:
        await recv(connection)
        await connection.session.update(session=detection("semantic_vad", eagerness="high"))
        updated = await until(connection, of_type("session.updated"))
        vad = updated.session.audio.input.turn_detection
        assert vad.type == "semantic_vad" and vad.eagerness == "high"
        assert not hasattr(vad, "silence_duration_ms")
        await connection.session.update(session=detection("semantic_vad", eagerness="fast"))
        refused = await until(connection, of_type("error"))
        assert refused.error.param == "session.audio.input.turn_detection.eagerness"
        assert "high" in refused.error.message
        await connection.session.update(session=detection("server_vad"))
        updated = await until(connection, of_type("session.updated"))
        vad = updated.session.audio.input.turn_detection
        assert vad.type == "server_vad" and vad.silence_duration_ms == 500
    async with worker.sdk().beta.realtime.connect(model="gpt-4o-realtime-preview") as beta:
        await recv(beta)
        semantic: Any = {"turn_detection": {"type": "semantic_vad", "eagerness": "low"}}
        await beta.session.update(session=semantic)
        updated = await until(beta, of_type("session.updated"))
        assert updated.session.turn_detection.type == "semantic_vad"
        assert updated.session.turn_detection.eagerness == "low"


async def test_a_false_end_is_cancelled_and_stored_as_one_thought(
    worker: Worker, venice: Any
) -> None:
    # smart-turn hears "And so my fellow Americans" as finished (p ~0.97), and the
    # speaker goes on after 1.1 s: the response started on it is cancelled before its
    # audio (the reply waits 1.5 s) and the rest is the same thought
    venice.scenario = "slow"
    pcm = jfk_pcm() + people.noise(0.003, 24_000 * 3, seed=2)
    spoken = people.Spoken(pcm, 24_000, "", speech_end_s=10.6, pauses=())
    session = detection("semantic_vad", eagerness="medium")
    session_id, seen, _ = await converse(worker, session, spoken, "response.done", count=2)
    assert len(of(seen, "input_audio_buffer.committed")) == 2
    dones = [e for _, e in of(seen, "response.done")]
    assert [d.response.status for d in dones] == ["cancelled", "completed"]
    assert dones[0].response.status_details.reason == "turn_detected"
    kinds = [e.type for _, e in seen]
    assert "response.output_audio.delta" not in kinds[: kinds.index("response.done")]
    stored = await history(worker, session_id)
    assert len(stored) == 2 and stored[1] == "Too late."  # one user message
    assert {"americans", "country"} <= set(people_words(stored[0])), stored
