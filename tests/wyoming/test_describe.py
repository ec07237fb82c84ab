"""`describe` through the `wyoming` package's own client: the STT model and every voice
of the model server, installed, with languages, attribution and streaming support."""

from __future__ import annotations

from wyoming.event import Event
from wyoming.info import Describe, Info

from harness.processes import Process
from tests.wyoming.support import client, read_until
from voice_worker.wyoming.settings import WyomingSettings


async def test_describe_lists_the_stt_model_and_the_piper_voice(wyoming: Process) -> None:
    async with client(wyoming) as c:
        await c.write_event(Describe().event())
        (event,) = await read_until(c, "info")
    info = Info.from_event(event)
    (asr,) = info.asr
    assert asr.installed and asr.supports_transcript_streaming
    (model,) = asr.models
    assert (model.name, model.languages, model.installed) == ("tiny.en", ["en"], True)
    assert "faster-whisper" in model.attribution.url
    (tts,) = info.tts
    assert tts.installed and tts.supports_synthesize_streaming
    joe = {v.name: v for v in tts.voices}["joe"]
    assert joe.installed and joe.languages == ["en_US"]
    assert joe.attribution.name.startswith("Piper")


async def test_describe_without_data_and_twice_on_one_connection(wyoming: Process) -> None:
    async with client(wyoming) as c:
        for event in (Event("describe", data={}), Event("describe")):
            await c.write_event(event)
            (answer,) = await read_until(c, "info")
            assert [v.name for v in Info.from_event(answer).tts[0].voices] == ["joe"]


def test_zeroconf_is_off_unless_asked() -> None:
    settings = WyomingSettings()
    assert settings.zeroconf is False
    assert settings.uri == "tcp://127.0.0.1:10300"


async def test_ping_is_answered_and_select_program_accepted(wyoming: Process) -> None:
    async with client(wyoming) as c:
        await c.write_event(Event("select-program", data={"name": "voice-engine"}))
        await c.write_event(Event("ping", data={"text": "hi"}))
        (pong,) = await read_until(c, "pong")
    assert pong.data == {"text": "hi"}
