"""Model server targets: addresses stay, names resolve to every address they have."""

from __future__ import annotations

import socket
from collections.abc import Sequence

import pytest

from voice_worker.settings import Settings
from voice_worker.tts.fleet.discovery import Discovery, Target, parse_target, system_resolver


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("10.0.0.5:50051", Target("10.0.0.5", 50051)),
        ("dns:///model-servers.voice.svc:7000", Target("model-servers.voice.svc", 7000)),
        ("model-servers", Target("model-servers", 50051)),
        ("[::1]:50052", Target("::1", 50052)),
    ],
)
def test_targets_parse(text: str, target: Target) -> None:
    assert parse_target(text) == target


@pytest.mark.parametrize("text", ["", "a:b", "host:0", "host:70000", "a:1:2", "http://x/y:1"])
def test_bad_targets_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"port|address"):
        parse_target(text)


def test_the_setting_takes_a_json_list_or_a_plain_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOICE_TTS__MODEL_SERVERS", '["10.0.0.5:50051", "10.0.0.6:50051"]')
    assert Settings().tts.model_servers == ["10.0.0.5:50051", "10.0.0.6:50051"]
    monkeypatch.setenv("VOICE_TTS__MODEL_SERVERS", "dns:///model-servers:50051")
    assert Settings().tts.model_servers == ["dns:///model-servers:50051"]
    monkeypatch.setenv("VOICE_TTS__MODEL_SERVERS", "a:1, b:2")
    assert Settings().tts.model_servers == ["a:1", "b:2"]
    monkeypatch.delenv("VOICE_TTS__MODEL_SERVERS")
    assert Settings().tts.model_servers == []


async def test_names_resolve_to_all_their_addresses_and_keep_them_on_failure() -> None:
    answers: dict[str, list[str]] = {"servers.test": ["127.0.0.2", "127.0.0.3"]}

    async def resolve(host: str, port: int) -> Sequence[str]:
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return answers[host]

    discovery = Discovery(["servers.test:6000", "10.1.1.1:7000"], resolve)
    assert discovery.resolves_names
    assert await discovery.addresses() == {"127.0.0.2:6000", "127.0.0.3:6000", "10.1.1.1:7000"}
    answers["servers.test"] = ["127.0.0.3"]
    assert await discovery.addresses() == {"127.0.0.3:6000", "10.1.1.1:7000"}
    del answers["servers.test"]  # DNS trouble: the last answer stands
    assert await discovery.addresses() == {"127.0.0.3:6000", "10.1.1.1:7000"}


async def test_the_system_resolver_reads_the_system() -> None:
    assert "127.0.0.1" in await system_resolver("localhost", 50051)
    assert not Discovery(["127.0.0.1:1"]).resolves_names
