"""Ready means ready: everything started at once (a compose file, a pod restart), the
model server the slower to come up (it loads its models). `serve-wyoming` listens only
once it knows the model server's voices, so no `describe` answers with none (Home
Assistant keeps what it is told at setup); the HTTP worker's /readyz says ready only
once it can serve with the catalogue read (names checked, the API document listing
them), and /v1/audio/voices is never an empty list. Mock STT: the worker and the
Wyoming server start in a moment, before the model server."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import httpx
from wyoming.info import Describe, Info

from harness.processes import Process, free_port, model_server_process
from harness.servers import worker_process
from tests.wyoming.support import client, read_until, wait_listening, wyoming_process

MOCK = {"VOICE_STT__PROVIDER": "mock", "VOICE_LOG__LEVEL": "INFO"}
#: the test model server's Piper voice
VOICE = "joe"
#: the model server starts this much after the others (it is still loading)
HEAD_START = 3.0


def listening(address: str) -> bool:
    host, port = address.split(":")
    try:
        socket.create_connection((host, int(port)), timeout=0.5).close()
    except OSError:
        return False
    return True


async def voices_described(wyoming: Process) -> list[str]:
    async with client(wyoming) as c:
        await c.write_event(Describe().event())
        (info,) = await read_until(c, "info")
    return [v.name for v in Info.from_event(info).tts[0].voices]


async def test_no_describe_answers_without_the_voices_after_a_cold_start(tmp_path: Path) -> None:
    models_address = f"127.0.0.1:{free_port()}"
    with wyoming_process(tmp_path, models_address, MOCK, wait=False) as wyoming:
        deadline = time.monotonic() + HEAD_START
        while time.monotonic() < deadline:  # the model server not started yet
            if listening(wyoming.address):
                assert VOICE in await voices_described(wyoming)
            await asyncio.sleep(0.2)
        port = int(models_address.split(":")[1])
        with model_server_process(tmp_path, port=port, wait=False):
            wait_listening(wyoming.address, wyoming.popen)
            assert VOICE in await voices_described(wyoming)  # the very first describe
        assert "listening anyway" not in wyoming.log()


def test_readyz_says_ready_only_when_the_lists_are_full(tmp_path: Path) -> None:
    models_address = f"127.0.0.1:{free_port()}"
    with (
        worker_process(tmp_path, models_address, MOCK) as worker,
        httpx.Client(base_url=f"http://{worker.address}", timeout=10) as http,
    ):
        time.sleep(HEAD_START)
        assert http.get("/readyz").status_code == 503
        port = int(models_address.split(":")[1])
        with model_server_process(tmp_path, port=port, wait=False):
            deadline = time.monotonic() + 90
            ready = False
            while not ready:
                assert time.monotonic() < deadline, "never ready"
                voices = http.get("/v1/audio/voices")
                if voices.status_code == 200:  # reachable: never an empty list
                    assert voices.json()["data"], voices.text
                else:
                    assert voices.status_code in (502, 503, 504), voices.text
                ready = http.get("/readyz").status_code == 200
                time.sleep(0 if ready else 0.05)
            models = http.get("/v1/models")
            voices = http.get("/v1/audio/voices")
            assert models.status_code == 200 and voices.status_code == 200
            speech = [m for m in models.json()["data"] if m["owned_by"] == "model_server"]
            assert speech and any(m["default"] for m in speech), models.text
            assert VOICE in [v["name"] for v in voices.json()["data"]], voices.text
            # the catalogue was read: the document lists its voices
            schemas = http.get("/openapi.json").json()["components"]["schemas"]
            assert VOICE in schemas["TTSRequest"]["properties"]["voice"]["enum"]
