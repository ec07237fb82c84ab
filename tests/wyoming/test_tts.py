"""Text-to-speech over Wyoming: `synthesize` returns 22050 Hz s16le audio that says the
text; streaming synthesis speaks each sentence as it is written; Home Assistant's
2025.8 sequence speaks the text once; what HA really sends (no data, null fields, a
voice the server lacks) still speaks."""

from __future__ import annotations

from typing import Any

from wyoming.audio import AudioStart
from wyoming.event import Event
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeVoice,
)

from harness.processes import Process, word_error_rate
from tests.wyoming.support import Audio, client, listen, read_until

SENTENCE = "The quick brown fox jumps over the lazy dog."
THREE = [
    "The first sentence is about the weather. ",
    "The second one talks about the kitchen lights. ",
    "And the third sentence says goodbye.",
]


async def synthesize(wyoming: Process, text: str, **voice: Any) -> Audio:
    async with client(wyoming) as c:
        await c.write_event(Synthesize(text=text, voice=SynthesizeVoice(**voice)).event())
        return Audio(await read_until(c, "audio-stop"))


async def test_synthesize_says_the_words(wyoming: Process, whisper: Any) -> None:
    audio = await synthesize(wyoming, SENTENCE, name="joe")
    assert audio.types[0] == "audio-start" and audio.types[-1] == "audio-stop"
    start = AudioStart.from_event(audio.events[0])
    assert (start.rate, start.width, start.channels) == (22_050, 2, 1)
    chunks = [len(e.payload or b"") for e in audio.events if e.type == "audio-chunk"]
    assert all(size == 2048 for size in chunks[:-1]) and 0 < chunks[-1] <= 2048
    assert 1.5 < audio.seconds() < 6.0
    assert word_error_rate(SENTENCE, listen(whisper, audio.wav())) <= 0.15


async def test_streaming_speaks_the_first_sentence_before_the_last_is_sent(
    wyoming: Process, whisper: Any
) -> None:
    async with client(wyoming) as c:
        await c.write_event(SynthesizeStart(voice=SynthesizeVoice(name="joe")).event())
        await c.write_event(SynthesizeChunk(text=THREE[0]).event())
        first = Audio(await read_until(c, "audio-stop"))  # before the rest is written
        await c.write_event(SynthesizeChunk(text=THREE[1]).event())
        await c.write_event(SynthesizeChunk(text=THREE[2]).event())
        await c.write_event(SynthesizeStop().event())
        rest = Audio(await read_until(c, "synthesize-stopped"))
    assert first.types[0] == "audio-start" and first.seconds() > 1.0
    assert word_error_rate(THREE[0], listen(whisper, first.wav())) <= 0.2
    assert rest.types.count("audio-start") == rest.types.count("audio-stop") == 2
    assert rest.types[-1] == "synthesize-stopped"
    assert word_error_rate("".join(THREE[1:]), listen(whisper, rest.wav())) <= 0.2


async def test_home_assistant_2025_8_sequence_speaks_the_text_once(
    wyoming: Process, whisper: Any
) -> None:
    text = "Turn on the kitchen lights. Then dim the hallway to half."
    pieces = ["Turn on the ", "kitchen lights. Then dim", " the hallway", " to half."]
    voice = SynthesizeVoice(name="joe")
    async with client(wyoming) as c:
        await c.write_event(SynthesizeStart(voice=voice).event())
        for piece in pieces:
            await c.write_event(SynthesizeChunk(text=piece).event())
        await c.write_event(Synthesize(text=text, voice=voice).event())  # for old servers
        await c.write_event(SynthesizeStop().event())
        streamed = Audio(await read_until(c, "synthesize-stopped"))
    whole = await synthesize(wyoming, text, name="joe")
    assert streamed.types.count("audio-start") == 2  # one per sentence, nothing more
    assert abs(streamed.seconds() - whole.seconds()) < 0.25 * whole.seconds()
    assert word_error_rate(text, listen(whisper, streamed.wav())) <= 0.2


async def test_events_without_data_and_an_unknown_voice(wyoming: Process) -> None:
    async with client(wyoming) as c:
        await c.write_event(Event("synthesize-start"))  # no data at all
        await c.write_event(Event("synthesize-chunk", data={}))  # no text
        await c.write_event(SynthesizeChunk(text="Hello there. ").event())
        await c.write_event(Event("synthesize", data={"voice": None}))
        await c.write_event(Event("synthesize-stop"))
        events = Audio(await read_until(c, "synthesize-stopped"))
    assert "error" not in events.types and events.types.count("audio-start") == 1
    assert events.seconds() > 0.3
    default = await synthesize(wyoming, "Hello there.")
    before = wyoming.log().count("unknown voice")
    fallback = await synthesize(wyoming, "Hello there.", name="no-such-voice", speaker="x")
    assert fallback.pcm == default.pcm  # the default voice's audio (from the cache)
    assert wyoming.log().count("unknown voice") == before + 1


async def test_a_voice_chosen_by_language_alone(wyoming: Process) -> None:
    audio = await synthesize(wyoming, "Good morning.", language="en_US")
    assert audio.types[-1] == "audio-stop" and audio.seconds() > 0.3
