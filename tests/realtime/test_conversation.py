"""The realtime protocol end to end with the official `openai` SDK, unchanged: a spoken
conversation (server VAD ends the turn, the transcript and the reply's audio checked by
ear), a typed turn in the same connection, the history; the same under the beta names;
barge-in and truncation; a transcription-only session as pipecat and LiveKit open it."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import httpx
import pytest
from openai.types.realtime import (
    RealtimeSessionCreateRequestParam,
    RealtimeTranscriptionSessionCreateRequestParam,
)

from harness.processes import JFK_TRANSCRIPT, word_error_rate, words
from tests.realtime.conftest import Worker
from tests.realtime.support import TYPED, frames, jfk_pcm, of_type, recv, silence, until, wav
from voice_worker.stt.base import TranscriptionOptions
from voice_worker.stt.local import LocalWhisperSTT

pytestmark = pytest.mark.slow
VAD_OVER_JFK: RealtimeSessionCreateRequestParam = {  # jfk.flac pauses ~1.1 s between phrases
    "type": "realtime",
    "audio": {"input": {"turn_detection": {"type": "server_vad", "silence_duration_ms": 1500}}},
}


@pytest.fixture(scope="module")
def ear() -> LocalWhisperSTT:
    return LocalWhisperSTT()


async def heard(ear: LocalWhisperSTT, pcm: bytes) -> str:
    return (await ear.transcribe(wav(pcm), TranscriptionOptions("en"))).text


def audio_of(events: list[Any], kind: str = "response.output_audio.delta") -> bytes:
    return b"".join(base64.b64decode(e.delta) for e in events if e.type == kind)


def text_of(events: list[Any], kind: str = "response.output_audio_transcript.delta") -> str:
    return "".join(e.delta for e in events if e.type == kind)


async def history(worker: Worker, session_id: str) -> list[str]:
    async with httpx.AsyncClient(base_url=worker.url, timeout=10) as client:
        page = await client.get(f"/api/voice/sessions/{session_id}/messages")
    return [m["text"] for m in page.json()["items"]]


async def sessions(worker: Worker) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=worker.url, timeout=10) as client:
        items: list[dict[str, Any]] = (await client.get("/api/voice/sessions")).json()["items"]
    return items


def first(kinds: list[str], kind: str) -> int:
    return kinds.index(kind)


async def test_a_spoken_conversation_with_the_official_sdk(
    worker: Worker, venice: Any, ear: LocalWhisperSTT
) -> None:
    async with worker.sdk().realtime.connect(model="gpt-realtime") as connection:
        created = await recv(connection)
        assert created.type == "session.created"
        session_id = created.session.model_dump()["id"]
        await connection.session.update(session=VAD_OVER_JFK)
        updated = await until(connection, of_type("session.updated"))
        vad = updated.session.audio.input.turn_detection
        assert vad.type == "server_vad" and vad.silence_duration_ms == 1500
        for frame in frames(jfk_pcm() + silence(2.0)):
            await connection.input_audio_buffer.append(audio=frame)
        seen: list[Any] = []
        done = await until(connection, of_type("response.done"), seen)
        kinds = [e.type for e in seen]
        assert (
            first(kinds, "input_audio_buffer.speech_started")
            < first(kinds, "input_audio_buffer.speech_stopped")
            < first(kinds, "input_audio_buffer.committed")
            < first(kinds, "conversation.item.input_audio_transcription.completed")
            < first(kinds, "response.output_audio.delta")
            < first(kinds, "response.output_audio.done")
        )
        started = seen[first(kinds, "input_audio_buffer.speech_started")]
        stopped = seen[first(kinds, "input_audio_buffer.speech_stopped")]
        assert 0 <= started.audio_start_ms <= 300  # speech at ~0.3 s, minus the padding
        assert 10_500 + 1500 - 200 <= stopped.audio_end_ms <= 11_000 + 1500 + 64
        said = seen[first(kinds, "conversation.item.input_audio_transcription.completed")]
        assert word_error_rate(JFK_TRANSCRIPT, said.transcript) <= 0.15, said.transcript
        assert done.response.status == "completed"
        reply = text_of(seen)
        assert reply == "Hello from Venice."
        spoken = seen[first(kinds, "response.output_audio_transcript.done")].transcript
        assert spoken == reply
        audio = audio_of(seen)
        assert len(audio) % 2 == 0 and len(audio) / 48_000 > 0.5  # pcm16 at 24 kHz
        assert word_error_rate(reply, await heard(ear, audio)) <= 0.15

        await connection.conversation.item.create(item=TYPED)
        await connection.response.create()
        typed: list[Any] = []
        done = await until(connection, of_type("response.done"), typed)
        assert done.response.status == "completed"
        assert "conversation.item.added" in [e.type for e in typed]
        assert text_of(typed) == "Hello from Venice."
    # the model saw the first turn when it answered the second
    prompt = venice.requests[-1]["messages"]
    assert [m["role"] for m in prompt[1:]] == ["user", "assistant", "user"]
    assert await history(worker, session_id) == [
        said.transcript,
        "Hello from Venice.",
        "Hm?",
        "Hello from Venice.",
    ]


async def test_the_same_with_the_beta_names(worker: Worker, venice: Any) -> None:
    async with worker.sdk().beta.realtime.connect(model="gpt-4o-realtime-preview") as connection:
        created = await recv(connection)
        assert created.type == "session.created"
        assert created.session.input_audio_format == "pcm16"
        push_to_talk: Any = {"turn_detection": None, "voice": "alloy", "instructions": "Be brief."}
        await connection.session.update(session=push_to_talk)
        updated = await until(connection, of_type("session.updated"))
        assert updated.session.turn_detection is None
        assert updated.session.voice == "alloy" and updated.session.instructions == "Be brief."
        for frame in frames(jfk_pcm()):  # push-to-talk: the client ends the turn
            await connection.input_audio_buffer.append(audio=frame)
        await connection.input_audio_buffer.commit()
        await connection.response.create()
        seen: list[Any] = []
        done = await until(connection, of_type("response.done"), seen)
        typed: Any = TYPED
        await connection.conversation.item.create(item=typed)  # and a typed turn
        await connection.response.create()
        second: list[Any] = []
        again = await until(connection, of_type("response.done"), second)
        assert again.response.status == "completed"
        assert text_of(second, "response.audio_transcript.delta") == "Hello from Venice."
    kinds = {e.type for e in seen}
    assert {
        "input_audio_buffer.committed",
        "conversation.item.created",
        "conversation.item.input_audio_transcription.completed",
        "response.audio.delta",
        "response.audio_transcript.delta",
        "response.audio.done",
        "response.audio_transcript.done",
    } <= kinds
    ga_only = {
        "conversation.item.added",
        "conversation.item.done",
        "response.output_audio.delta",
        "response.output_audio_transcript.delta",
    }
    assert not kinds & ga_only
    assert done.response.status == "completed" and done.response.modalities == ["text", "audio"]
    said = next(e for e in seen if e.type.endswith("transcription.completed")).transcript
    assert word_error_rate(JFK_TRANSCRIPT, said) <= 0.15
    assert text_of(seen, "response.audio_transcript.delta") == "Hello from Venice."
    assert len(audio_of(seen, "response.audio.delta")) > 24_000
    assert venice.requests[-1]["messages"][0] == {"role": "system", "content": "Be brief."}


async def test_speech_over_a_reply_cancels_it_and_truncation_stores_what_was_heard(
    worker: Worker, venice: Any, ear: LocalWhisperSTT
) -> None:
    venice.scenario = "paced"  # the first sentence, then the chat waits (for ever, here)
    abandoned = venice.abandoned
    async with worker.sdk().realtime.connect(model="gpt-realtime") as connection:
        session_id = (await recv(connection)).session.model_dump()["id"]
        await connection.session.update(session=VAD_OVER_JFK)
        for frame in frames(jfk_pcm() + silence(2.0)):
            await connection.input_audio_buffer.append(audio=frame)
        seen: list[Any] = []
        await until(connection, of_type("response.output_audio.delta"), seen)
        while len(audio_of(seen)) < 48_000:  # a second of the reply has arrived
            await until(connection, of_type("response.output_audio.delta"), seen)
        for frame in frames(jfk_pcm()[: 48_000 * 3]):  # the user speaks over it
            await connection.input_audio_buffer.append(audio=frame)
        done = await until(connection, of_type("response.done"), seen)
        kinds = [e.type for e in seen]
        assert first(kinds, "input_audio_buffer.speech_started") < kinds.index("response.done")
        assert done.response.status == "cancelled"
        assert done.response.status_details.reason == "turn_detected"
        item = done.response.output[0]
        assert item.status == "incomplete"
        audio = audio_of(seen)
        end_ms = len(audio) // 48 // 2  # the player had played half of what arrived
        await connection.conversation.item.truncate(
            item_id=item.id, content_index=0, audio_end_ms=end_ms
        )
        after: list[Any] = []
        truncated = await until(connection, of_type("conversation.item.truncated"), after)
        assert truncated.item_id == item.id and truncated.audio_end_ms == end_ms
        assert "response.output_audio.delta" not in [e.type for e in after]
    assert venice.abandoned == abandoned + 1  # the chat upstream was closed
    said, stored = await history(worker, session_id)
    assert word_error_rate(JFK_TRANSCRIPT, said) <= 0.15
    full = "The first sentence is short."
    assert full.startswith(stored) and 0 < len(stored) < len(full), stored
    played = words(await heard(ear, audio[: end_ms * 48]))  # what a listener heard
    assert abs(len(words(stored)) - len(played)) <= 1, (stored, played)
    assert words(full)[: len(played)] == played


async def test_a_transcription_session_as_pipecat_and_livekit_open_it(worker: Worker) -> None:
    before = await sessions(worker)
    client = worker.sdk()
    async with client.realtime.connect(extra_query={"intent": "transcription"}) as connection:
        created = await recv(connection)
        assert created.session.type == "transcription"
        pipecat: RealtimeTranscriptionSessionCreateRequestParam = {  # its own VAD; it commits
            "type": "transcription",
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": 24000},
                    "transcription": {"model": "gpt-4o-transcribe", "language": "en"},
                    "turn_detection": None,
                }
            },
        }
        await connection.session.update(session=pipecat)
        await until(connection, of_type("session.updated"))
        for frame in frames(jfk_pcm()):
            await connection.input_audio_buffer.append(audio=frame)
        await connection.input_audio_buffer.commit()
        seen: list[Any] = []
        completed = await until(
            connection, of_type("conversation.item.input_audio_transcription.completed"), seen
        )
        assert word_error_rate(JFK_TRANSCRIPT, completed.transcript) <= 0.15
        deltas = text_of(seen, "conversation.item.input_audio_transcription.delta")
        assert word_error_rate(completed.transcript, deltas) == 0
        assert seen[0].type == "input_audio_buffer.committed"
    async with client.realtime.connect(  # LiveKit: the model named, server VAD
        model="gpt-4o-transcribe", extra_query={"intent": "transcription"}
    ) as connection:
        await recv(connection)
        livekit: RealtimeTranscriptionSessionCreateRequestParam = {
            "type": "transcription",
            "audio": {
                "input": {"turn_detection": {"type": "server_vad", "silence_duration_ms": 1500}}
            },
        }
        await connection.session.update(session=livekit)
        for frame in frames(jfk_pcm() + silence(2.0)):
            await connection.input_audio_buffer.append(audio=frame)
        seen = []
        completed = await until(
            connection, of_type("conversation.item.input_audio_transcription.completed"), seen
        )
        assert word_error_rate(JFK_TRANSCRIPT, completed.transcript) <= 0.15
        kinds = [e.type for e in seen]
        assert "input_audio_buffer.speech_stopped" in kinds
        assert not [k for k in kinds if k.startswith("response.")]
    after = await sessions(worker)
    assert len(after) == len(before)  # a transcription session stores nothing


async def test_one_session_one_connection(worker: Worker, venice: Any) -> None:
    client = worker.sdk()
    async with client.realtime.connect(model="m") as connection:
        session_id = (await recv(connection)).session.model_dump()["id"]
        second = client.realtime.connect(model="m", extra_query={"session_id": session_id})
        async with second as other:
            refused = await recv(other)
            assert refused.type == "error" and refused.error.code == "session_in_use"
            with pytest.raises(Exception, match="1008"):
                await recv(other)
        await connection.conversation.item.create(item=TYPED)  # the first one goes on
        await connection.response.create()
        done = await until(connection, of_type("response.done"))
        assert done.response.status == "completed"
    async with client.realtime.connect(  # once closed, the session can be continued
        model="m", extra_query={"session_id": session_id}
    ) as connection:
        assert (await recv(connection)).session.model_dump()["id"] == session_id
    assert await history(worker, session_id) == ["Hm?", "Hello from Venice."]


async def test_a_client_that_leaves_mid_reply_stores_nothing(worker: Worker, venice: Any) -> None:
    venice.scenario = "paced"  # the reply stops half-way until released (never, here)
    abandoned = venice.abandoned
    async with worker.sdk().realtime.connect(model="m") as connection:
        session_id = (await recv(connection)).session.model_dump()["id"]
        await connection.conversation.item.create(item=TYPED)
        await connection.response.create()
        await until(connection, of_type("response.output_audio.delta"))
    for _ in range(100):  # the worker notices the connection is gone
        if venice.abandoned > abandoned:
            break
        await asyncio.sleep(0.05)
    assert venice.abandoned == abandoned + 1  # the chat upstream was closed
    assert await history(worker, session_id) == []


async def test_truncating_a_finished_reply_cuts_the_stored_message(
    worker: Worker, venice: Any
) -> None:
    venice.scenario = "long"  # twelve sentences: the player is far behind the server
    async with worker.sdk().realtime.connect(model="m") as connection:
        session_id = (await recv(connection)).session.model_dump()["id"]
        await connection.conversation.item.create(item=TYPED)
        await connection.response.create()
        seen: list[Any] = []
        done = await until(connection, of_type("response.done"), seen, timeout=90)
        assert done.response.status == "completed"
        full = text_of(seen)
        seconds = len(audio_of(seen)) / 48_000
        assert seconds > 10
        item_id = done.response.output[0].id
        await connection.conversation.item.truncate(
            item_id=item_id, content_index=0, audio_end_ms=int(seconds * 1000 * 0.5)
        )
        await until(connection, of_type("conversation.item.truncated"))
        await connection.conversation.item.truncate(  # past the end: refused
            item_id=item_id, content_index=0, audio_end_ms=int(seconds * 1000) + 500
        )
        refused = await until(connection, of_type("error"))
        assert refused.error.param == "audio_end_ms"
    typed, stored = await history(worker, session_id)
    assert typed == "Hm?"
    assert full.strip().startswith(stored) and len(words(full)) / 3 < len(words(stored))
    assert len(words(stored)) < len(words(full)) * 2 / 3  # about half of it was heard
