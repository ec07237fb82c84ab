"""Ten Wyoming clients at once (five speaking, five listening), connected before any of
them sends a request, are all served; two more that disconnect mid-stream (one in the
middle of its audio, one in the middle of its speech) disturb none of them."""

from __future__ import annotations

import asyncio
from typing import Any

from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart
from wyoming.client import AsyncTcpClient
from wyoming.info import Describe
from wyoming.tts import Synthesize

from harness.processes import JFK_TRANSCRIPT, Process, word_error_rate
from tests.wyoming.support import Audio, client, jfk_pcm, listen, read_until, send_audio

TEXTS = [
    f"Client number {n} would like the {thing} please."
    for n, thing in zip(
        ("one", "two", "three", "four", "five"),
        ("lights", "music", "heating", "blinds", "fan"),
        strict=True,
    )
]
LONG = " ".join(f"This is sentence {n} of a long answer nobody will hear." for n in range(10))


async def speak(c: AsyncTcpClient, text: str) -> Audio:
    await c.write_event(Synthesize(text=text).event())
    return Audio(await read_until(c, "audio-stop"))


async def hear(c: AsyncTcpClient, pcm: bytes) -> str:
    await c.write_event(Transcribe(language="en").event())
    await send_audio(c, pcm, 16_000, 2, 1)
    events = await read_until(c, "transcript-stop")
    return Transcript.from_event(events[-2]).text


async def leave_while_spoken_to(c: AsyncTcpClient) -> None:
    await c.write_event(Synthesize(text=LONG).event())
    while (event := await c.read_event()) is not None and event.type != "audio-chunk":
        pass
    await c.disconnect()


async def leave_while_speaking(c: AsyncTcpClient, pcm: bytes) -> None:
    await c.write_event(AudioStart(rate=16_000, width=2, channels=1).event())
    await c.write_event(AudioChunk(rate=16_000, width=2, channels=1, audio=pcm[:64_000]).event())
    await c.disconnect()


async def test_ten_clients_at_once_and_two_that_leave(wyoming: Process, whisper: Any) -> None:
    pcm = jfk_pcm()
    before = wyoming.log().count("wyoming client left in the middle of a request")
    clients = [client(wyoming) for _ in range(12)]
    for c in clients:
        await c.connect()  # all twelve connections are open before anything is asked
    try:
        speakers, listeners, leavers = clients[:5], clients[5:10], clients[10:]
        results = await asyncio.wait_for(
            asyncio.gather(
                leave_while_spoken_to(leavers[0]),
                leave_while_speaking(leavers[1], pcm),
                *(speak(c, text) for c, text in zip(speakers, TEXTS, strict=True)),
                *(hear(c, pcm) for c in listeners),
            ),
            timeout=120,
        )
    finally:
        for c in clients:
            await c.disconnect()
    audios, transcripts = results[2:7], results[7:]
    for text, audio in zip(TEXTS, audios, strict=True):
        assert isinstance(audio, Audio) and audio.types[0] == "audio-start"
        assert word_error_rate(text, listen(whisper, audio.wav())) <= 0.25
    for transcript in transcripts:
        assert isinstance(transcript, str)
        assert word_error_rate(JFK_TRANSCRIPT, transcript) <= 0.15
    # the server is still up and its log has no failure in it
    async with client(wyoming) as c:
        await c.write_event(Describe().event())
        assert [e.type for e in await read_until(c, "info")] == ["info"]
    log = wyoming.log()
    assert log.count("wyoming client left in the middle of a request") >= before + 2
    assert '"level": "error"' not in log and "Traceback" not in log
