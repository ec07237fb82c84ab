"""`CachedSpeech.stream_text`, the one path for text still being written (a chat turn, a
Wyoming stream): the checks of a speech request (a voice the provider does not offer is
refused before any text is read) and OpenAI's names mapped once, except for an engine
that knows them itself (tts.base.TakesOpenAINames)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal

import pytest

from shared.audio.formats import AudioFormat
from shared.cache.memory import MemoryCache
from voice_worker.catalog.choices import SpeechChoices
from voice_worker.errors import InvalidRequest
from voice_worker.speech.cached_speech import CachedSpeech
from voice_worker.tts.base import Speech, SpeechOptions, TakesOpenAINames
from voice_worker.tts.openai_tts import OpenAITTS


@dataclass
class PcmEngine:
    """Speaks each text as 10 ms of silence and notes what it was asked."""

    name: str = "engine"
    native_formats: frozenset[AudioFormat] = frozenset({AudioFormat.PCM})
    asked: list[tuple[str, SpeechOptions]] = field(default_factory=list)

    async def synthesize(self, text: str, options: SpeechOptions) -> Speech:
        raise NotImplementedError

    async def stream(self, text: str, options: SpeechOptions) -> AsyncIterator[bytes]:
        self.asked.append((text, options))
        yield b"\0\0" * 160


@dataclass
class OpenAILike(PcmEngine):
    takes_openai_names: Literal[True] = True


async def written(read: list[str], *texts: str) -> AsyncIterator[str]:
    for text in texts:
        read.append(text)
        yield text


async def test_openai_names_are_mapped_once_and_each_sentence_spoken() -> None:
    engine = PcmEngine()
    speech = CachedSpeech(engine, MemoryCache(), voice_map={"alloy": "joe"})
    read: list[str] = []
    options = SpeechOptions(voice="alloy", model="tts-1", format=AudioFormat.PCM)
    pieces = [p async for p in speech.stream_text(written(read, "Hi there. ", "Bye."), options)]
    assert [p.text for p in pieces if p.text] == ["Hi there.", "Bye."]
    assert [(o.voice, o.model) for _, o in engine.asked] == [("joe", "")] * 2


async def test_an_engine_that_knows_openai_names_gets_them_as_sent() -> None:
    openai_tts = OpenAITTS("key", "http://127.0.0.1:9/v1")
    assert isinstance(openai_tts, TakesOpenAINames)
    assert not isinstance(PcmEngine(), TakesOpenAINames)
    await openai_tts.close()
    engine = OpenAILike()
    speech = CachedSpeech(engine, MemoryCache(), voice_map={"alloy": "joe"})
    options = SpeechOptions(voice="alloy", model="tts-1", format=AudioFormat.PCM)
    _ = [p async for p in speech.stream_text(written([], "Hello."), options)]
    assert [(o.voice, o.model) for _, o in engine.asked] == [("alloy", "tts-1")]
    assert speech.prepare("Hello.", voice="alloy", model="tts-1").options.voice == "alloy"


async def test_a_voice_not_offered_is_refused_before_any_text_is_read() -> None:
    speech = CachedSpeech(PcmEngine(), MemoryCache())
    speech.choices = SpeechChoices(
        voices=("", "joe"), models=("",), languages=("",), instructions=False
    )
    read: list[str] = []
    with pytest.raises(InvalidRequest) as caught:
        speech.stream_text(written(read, "Hello."), SpeechOptions(voice="zed"))
    assert (caught.value.param, caught.value.code) == ("voice", "voice_not_found")
    with pytest.raises(InvalidRequest) as slow:
        speech.stream_text(written(read, "Hello."), SpeechOptions(voice="joe", speed=9.0))
    assert slow.value.param == "speed"
    assert read == []
