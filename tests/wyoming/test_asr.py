"""Speech-to-text over Wyoming: jfk.flac streamed in chunks, as Home Assistant sends it
(16 kHz, 16-bit, mono) and in other formats the server must resample, comes back as
the words, with the streaming transcript events around `transcript`."""

from __future__ import annotations

import pytest
from wyoming.asr import Transcribe, Transcript, TranscriptChunk

from harness.processes import JFK_TRANSCRIPT, Process, word_error_rate
from tests.wyoming.support import client, jfk_pcm, read_until, send_audio


async def test_jfk_in_home_assistants_format_transcribes(wyoming: Process) -> None:
    async with client(wyoming) as c:
        await c.write_event(Transcribe(name="tiny.en", language="en").event())
        # 1024 samples a chunk, as Home Assistant's pipeline sends
        await send_audio(c, jfk_pcm(), 16_000, 2, 1, chunk_bytes=2048)
        events = await read_until(c, "transcript-stop")
    types = [e.type for e in events]
    assert types[0] == "transcript-start" and types[-2:] == ["transcript", "transcript-stop"]
    transcript = Transcript.from_event(events[-2])
    assert transcript.language == "en"
    assert word_error_rate(JFK_TRANSCRIPT, transcript.text) <= 0.15
    chunks = [TranscriptChunk.from_event(e).text for e in events if e.type == "transcript-chunk"]
    assert chunks and "".join(chunks) == transcript.text


@pytest.mark.parametrize(
    ("rate", "width", "channels"),
    [(44_100, 4, 2), (48_000, 3, 1), (8_000, 1, 1)],
    ids=["44k-32bit-stereo", "48k-24bit-mono", "8k-8bit-mono"],
)
async def test_other_formats_are_resampled(
    wyoming: Process, rate: int, width: int, channels: int
) -> None:
    async with client(wyoming) as c:
        # no `transcribe` first (older clients send none), a language tag with a region
        await c.write_event(Transcribe(language="en-US").event())
        await send_audio(c, jfk_pcm(rate, width, channels), rate, width, channels, 8192)
        events = await read_until(c, "transcript-stop")
    transcript = Transcript.from_event(events[-2])
    assert word_error_rate(JFK_TRANSCRIPT, transcript.text) <= (0.25 if width == 1 else 0.15)


async def test_audio_without_transcribe_and_two_requests_on_one_connection(
    wyoming: Process,
) -> None:
    pcm = jfk_pcm()[: 16_000 * 2 * 4]  # "And so my fellow Americans"
    async with client(wyoming) as c:
        for _ in range(2):
            await send_audio(c, pcm, 16_000, 2, 1)
            events = await read_until(c, "transcript-stop")
            text = Transcript.from_event(events[-2]).text.lower()
            assert "fellow americans" in text
