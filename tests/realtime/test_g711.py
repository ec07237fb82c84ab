"""A phone call through the realtime protocol, as a Twilio Media Streams bridge relays
it: G.711 at 8 kHz both ways, 20 ms frames (160 bytes) at the pace a caller speaks,
with the official SDK. jfk.flac as μ-law (GA names) and as A-law (beta names): the
transcript matches and the reply, decoded, says its transcript; speech over a μ-law
reply cancels it and a truncation from the caller's playback position stores what was
heard; an output format changed mid-session applies from the next response."""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any

import pytest
from openai.types.realtime import RealtimeSessionCreateRequestParam

from harness.processes import JFK_TRANSCRIPT, word_error_rate, words
from shared.audio import g711
from shared.audio.encoding import wav_header
from tests.realtime.conftest import Worker
from tests.realtime.support import TYPED, of_type, recv, until
from tests.realtime.test_conversation import audio_of, first, heard, history, text_of
from tests.realtime.test_formats import PHONE_FRAME, phone
from voice_worker.stt.base import TranscriptionOptions
from voice_worker.stt.local import LocalWhisperSTT

pytestmark = pytest.mark.slow
#: the fake's three sentences, all at once: enough words that one a phone's 4 kHz of
#: bandwidth blurs stays in bound ("Hello from Venice." comes back "... Bennett.")
REPLY = "The first sentence is short. The second one comes later. And a third one ends it."


def three_sentences(venice: Any) -> None:
    venice.scenario = "paced"
    venice.release.set()


PCMU: Any = {"type": "audio/pcmu"}
#: a phone bridge's session: μ-law both ways, server VAD (jfk.flac pauses ~1.1 s)
PHONE_SESSION: RealtimeSessionCreateRequestParam = {
    "type": "realtime",
    "audio": {
        "input": {
            "format": PCMU,
            "turn_detection": {"type": "server_vad", "silence_duration_ms": 1500},
        },
        "output": {"format": PCMU},
    },
}


@pytest.fixture(scope="module")
def ear() -> LocalWhisperSTT:
    return LocalWhisperSTT()


def caller(law: g711.Law, speech: bytes | None = None, silence_s: float = 2.0) -> bytes:
    return (phone(law) if speech is None else speech) + bytes([g711.SILENCE[law]]) * int(
        g711.RATE * silence_s
    )


async def speak(connection: Any, audio: bytes) -> None:
    """`audio` as a phone sends it: a 20 ms frame every 20 ms (on a steady clock)."""
    start = time.monotonic()
    for n, i in enumerate(range(0, len(audio), PHONE_FRAME)):
        await asyncio.sleep(max(0.0, start + n * 0.02 - time.monotonic()))
        frame = base64.b64encode(audio[i : i + PHONE_FRAME]).decode()
        await connection.input_audio_buffer.append(audio=frame)


async def listened(ear: LocalWhisperSTT, data: bytes, law: g711.Law) -> str:
    pcm = g711.decode(data, law).astype("<i2").tobytes()
    wav = wav_header(g711.RATE, len(pcm)) + pcm
    return (await ear.transcribe(wav, TranscriptionOptions("en"))).text


async def test_a_mu_law_call_in_real_time(
    worker: Worker, venice: Any, ear: LocalWhisperSTT
) -> None:
    three_sentences(venice)
    async with worker.sdk().realtime.connect(model="gpt-realtime") as connection:
        session_id = (await recv(connection)).session.model_dump()["id"]
        await connection.session.update(session=PHONE_SESSION)
        updated = await until(connection, of_type("session.updated"))
        assert updated.session.audio.input.format.type == "audio/pcmu"
        assert updated.session.audio.output.format.type == "audio/pcmu"
        talking = asyncio.create_task(speak(connection, caller("ulaw")))
        seen: list[Any] = []
        done = await until(connection, of_type("response.done"), seen)
        await talking
        kinds = [e.type for e in seen]
        started = seen[first(kinds, "input_audio_buffer.speech_started")]
        stopped = seen[first(kinds, "input_audio_buffer.speech_stopped")]
        assert 0 <= started.audio_start_ms <= 300  # ms of the caller's audio, as with pcm
        assert 10_500 + 1500 - 200 <= stopped.audio_end_ms <= 11_000 + 1500 + 64
        said = seen[first(kinds, "conversation.item.input_audio_transcription.completed")]
        assert word_error_rate(JFK_TRANSCRIPT, said.transcript) <= 0.15, said.transcript
        assert done.response.status == "completed"
        assert done.response.audio.output.format.type == "audio/pcmu"
        reply = text_of(seen)
        assert reply == REPLY
        audio = audio_of(seen)
        assert len(audio) / g711.RATE > 0.5  # one byte a sample at 8 kHz
        assert word_error_rate(reply, await listened(ear, audio, "ulaw")) <= 0.15

        # the output format changes mid-session: the next response speaks pcm16
        pcm_out: Any = {"type": "realtime", "audio": {"output": {"format": {"type": "audio/pcm"}}}}
        await connection.session.update(session=pcm_out)
        updated = await until(connection, of_type("session.updated"))
        assert updated.session.audio.output.format.type == "audio/pcm"
        assert updated.session.audio.input.format.type == "audio/pcmu"
        await connection.conversation.item.create(item=TYPED)
        await connection.response.create()
        typed: list[Any] = []
        done = await until(connection, of_type("response.done"), typed)
        assert done.response.audio.output.format.type == "audio/pcm"
        wide = audio_of(typed)
        assert len(wide) % 2 == 0 and len(wide) / 48_000 > 0.5  # pcm16 at 24 kHz
        assert word_error_rate(text_of(typed), await heard(ear, wide)) <= 0.15
    assert (await history(worker, session_id))[:2] == [said.transcript, reply]


async def test_an_a_law_call_with_the_beta_names(
    worker: Worker, venice: Any, ear: LocalWhisperSTT
) -> None:
    three_sentences(venice)
    async with worker.sdk().beta.realtime.connect(model="gpt-4o-realtime-preview") as connection:
        await recv(connection)
        session: Any = {
            "input_audio_format": "g711_alaw",
            "output_audio_format": "g711_alaw",
            "turn_detection": {"type": "server_vad", "silence_duration_ms": 1500},
        }
        await connection.session.update(session=session)
        updated = await until(connection, of_type("session.updated"))
        assert updated.session.input_audio_format == "g711_alaw"
        assert updated.session.output_audio_format == "g711_alaw"
        talking = asyncio.create_task(speak(connection, caller("alaw")))
        seen: list[Any] = []
        done = await until(connection, of_type("response.done"), seen)
        await talking
    assert done.response.status == "completed"
    assert done.response.output_audio_format == "g711_alaw"
    said = next(e for e in seen if e.type.endswith("transcription.completed")).transcript
    assert word_error_rate(JFK_TRANSCRIPT, said) <= 0.15, said
    reply = text_of(seen, "response.audio_transcript.delta")
    audio = audio_of(seen, "response.audio.delta")
    assert len(audio) / g711.RATE > 0.5
    assert word_error_rate(reply, await listened(ear, audio, "alaw")) <= 0.15


async def test_a_caller_speaking_over_a_mu_law_reply(
    worker: Worker, venice: Any, ear: LocalWhisperSTT
) -> None:
    venice.scenario = "paced"  # the first sentence, then the chat waits (for ever, here)
    async with worker.sdk().realtime.connect(model="gpt-realtime") as connection:
        session_id = (await recv(connection)).session.model_dump()["id"]
        await connection.session.update(session=PHONE_SESSION)
        await until(connection, of_type("session.updated"))
        talking = asyncio.create_task(speak(connection, caller("ulaw")))
        seen: list[Any] = []
        await until(connection, of_type("response.output_audio.delta"), seen)
        while len(audio_of(seen)) < g711.RATE:  # a second of the reply has arrived
            await until(connection, of_type("response.output_audio.delta"), seen)
        await talking
        interruption = phone("ulaw")[: 3 * g711.RATE]  # the caller speaks over it
        talking = asyncio.create_task(speak(connection, interruption))
        done = await until(connection, of_type("response.done"), seen)
        kinds = [e.type for e in seen]
        assert first(kinds, "input_audio_buffer.speech_started") < kinds.index("response.done")
        assert done.response.status == "cancelled"
        assert done.response.status_details.reason == "turn_detected"
        item = done.response.output[0]
        audio = audio_of(seen)
        end_ms = len(audio) // 8 // 2  # the phone had played half of what arrived
        await connection.conversation.item.truncate(
            item_id=item.id, content_index=0, audio_end_ms=end_ms
        )
        truncated = await until(connection, of_type("conversation.item.truncated"))
        assert truncated.item_id == item.id and truncated.audio_end_ms == end_ms
        await talking
    said, stored = (await history(worker, session_id))[:2]
    assert word_error_rate(JFK_TRANSCRIPT, said) <= 0.15
    full = "The first sentence is short."
    assert full.startswith(stored) and 0 < len(stored) < len(full), stored
    played = words(await listened(ear, audio[: end_ms * 8], "ulaw"))  # what the caller heard
    assert abs(len(words(stored)) - len(played)) <= 1, (stored, played)
