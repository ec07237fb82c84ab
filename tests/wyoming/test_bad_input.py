"""Bad input gets an `error` event (the connection goes on) or, where the framing is
broken, a closed connection and a log line; the server keeps serving everyone else."""

from __future__ import annotations

import asyncio
import json

import pytest
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event, async_read_event
from wyoming.info import Describe
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop

from harness.processes import Process
from tests.wyoming.support import READ_TIMEOUT, client, read_until

PCM = b"\x00\x01" * 1024


async def error_then_describe(wyoming: Process, *events: Event) -> list[Error]:
    """Send `events`, then `describe`: the errors they caused, and the connection still
    answers (an `info` ends the list)."""
    async with client(wyoming) as c:
        for event in events:
            await c.write_event(event)
        await c.write_event(Describe().event())
        answers = []
        while (event := await c.read_event()) is not None and event.type != "info":
            answers.append(event)
    assert event is not None, "the connection was closed"
    assert {e.type for e in answers} <= {"error"}, [e.type for e in answers]
    return [Error.from_event(e) for e in answers]


async def test_unknown_event_type(wyoming: Process) -> None:
    (error,) = await error_then_describe(wyoming, Event("detect", data={"names": ["x"]}))
    assert error.code == "unknown_event" and "detect" in error.text


async def test_audio_chunks_without_audio_start_get_one_error(wyoming: Process) -> None:
    chunk = AudioChunk(rate=16_000, width=2, channels=1, audio=PCM).event()
    (error,) = await error_then_describe(wyoming, chunk, chunk, chunk, AudioStop().event())
    assert error.code == "audio_not_started"


@pytest.mark.parametrize(
    ("data", "param"),
    [
        ({}, "rate"),
        ({"rate": 16_000, "width": 5, "channels": 1}, "width"),
        ({"rate": 1_000_000, "width": 2, "channels": 1}, "rate"),
        ({"rate": 16_000, "width": 2, "channels": 0}, "channels"),
        ({"rate": "16000", "width": 2, "channels": 1}, "rate"),
    ],
)
async def test_bad_audio_format(wyoming: Process, data: dict[str, object], param: str) -> None:
    start = Event("audio-start", data=data)
    chunk = AudioChunk(rate=16_000, width=2, channels=1, audio=PCM).event()
    (error,) = await error_then_describe(wyoming, start, chunk, AudioStop().event())
    assert error.code == "invalid_audio_format" and param in error.text


async def test_chunk_format_differs_from_audio_start(wyoming: Process) -> None:
    start = AudioStart(rate=16_000, width=2, channels=1).event()
    chunk = AudioChunk(rate=48_000, width=2, channels=1, audio=PCM).event()
    (error,) = await error_then_describe(wyoming, start, chunk, chunk, AudioStop().event())
    assert error.code == "audio_format_changed"


async def test_audio_over_the_length_limit_is_refused_at_once(wyoming: Process) -> None:
    second = b"\x00\x00" * 16_000
    events = [AudioStart(rate=16_000, width=2, channels=1).event()]
    events += [AudioChunk(rate=16_000, width=2, channels=1, audio=second).event()] * 310
    (error,) = await error_then_describe(wyoming, *events, AudioStop().event())
    assert error.code == "audio_too_long" and "300" in error.text  # VOICE_STT__MAX_SECONDS


async def test_too_short_audio(wyoming: Process) -> None:
    events = [AudioStart(rate=16_000, width=2, channels=1).event(), AudioStop().event()]
    (error,) = await error_then_describe(wyoming, *events)
    assert error.code == "audio_too_short"


async def test_text_over_the_length_limit(wyoming: Process) -> None:
    long_text = "Hello there. " * 400  # 5200 characters; the limit is 4096
    (error,) = await error_then_describe(wyoming, Synthesize(text=long_text).event())
    assert error.code == "string_above_max_length"
    # streamed: refused when the text passes the limit, the stream then ends cleanly
    async with client(wyoming) as c:
        await c.write_event(SynthesizeStart().event())
        for _ in range(400):
            await c.write_event(SynthesizeChunk(text="Hello there. ").event())
        await c.write_event(SynthesizeStop().event())
        events = []
        while (event := await c.read_event()) is not None:
            events.append(event)
            if event.type == "synthesize-stopped":
                break
    types = [e.type for e in events]
    assert types.count("error") == 1 and types[-1] == "synthesize-stopped"
    assert Error.from_event(events[types.index("error")]).code == "string_above_max_length"


async def test_nothing_to_say_and_a_stream_out_of_order(wyoming: Process) -> None:
    errors = await error_then_describe(
        wyoming,
        Synthesize(text="").event(),
        Synthesize(text="?!").event(),
        SynthesizeChunk(text="Hello. ").event(),
        SynthesizeStop().event(),
    )
    assert [e.code for e in errors] == [
        "empty_input",
        "nothing_to_speak",
        "stream_not_started",
        "stream_not_started",
    ]


async def raw_exchange(wyoming: Process, data: bytes) -> list[Event]:
    """Write bytes as they are, then read until the server closes the connection."""
    host, port = wyoming.address.split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(data)
        await writer.drain()
        events = []
        while (event := await asyncio.wait_for(async_read_event(reader), READ_TIMEOUT)) is not None:
            events.append(event)
        return events
    finally:
        writer.close()


def header(kind: str, payload_length: int = 0, **data: object) -> bytes:
    head: dict[str, object] = {"type": kind, "data": data}
    if payload_length:
        head["payload_length"] = payload_length
    return json.dumps(head).encode() + b"\n"


@pytest.mark.parametrize(
    "garbage",
    [
        # a payload longer than its header says: the rest is read as the next header
        header("audio-start", rate=16_000, width=2, channels=1)
        + header("audio-chunk", 4, rate=16_000, width=2, channels=1)
        + b"\x01\x02\x03\x04\x05\x06\x07\x08"
        + header("audio-stop"),
        b"this is not json\n",
        b"[1, 2, 3]\n",
        b'{"data": {}}\n',
        # a gigabyte announced: refused before any of it is read
        header("audio-chunk", 10**9, rate=16_000, width=2, channels=1) + b"\x00" * 1000,
    ],
    ids=["payload-longer-than-declared", "not-json", "not-an-object", "no-type", "too-large"],
)
async def test_broken_framing_closes_the_connection_with_a_log_line(
    wyoming: Process, garbage: bytes
) -> None:
    before = wyoming.log().count("closing a wyoming connection")
    events = await raw_exchange(wyoming, garbage)
    assert [e.type for e in events][-1:] == ["error"]
    assert Error.from_event(events[-1]).code == "bad_event"
    assert wyoming.log().count("closing a wyoming connection") == before + 1
    # and everyone else is still served
    async with client(wyoming) as c:
        await c.write_event(Describe().event())
        assert [e.type for e in await read_until(c, "info")] == ["info"]


async def test_null_data_is_tolerated(wyoming: Process) -> None:
    sequence = (
        b'{"type": "synthesize-start", "data": null}\n'
        + header("synthesize-chunk", text="Okay. ")
        + b'{"type": "synthesize-stop", "data": null}\n'
        + b'{"type": "describe", "data": null}\n'
    )
    host, port = wyoming.address.split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(sequence)
        types: list[str] = []
        while not types or types[-1] != "info":
            event = await asyncio.wait_for(async_read_event(reader), READ_TIMEOUT)
            assert event is not None
            types.append(event.type)
    finally:
        writer.close()
    assert types[0] == "audio-start" and types[-2:] == ["synthesize-stopped", "info"]
    assert "error" not in types
