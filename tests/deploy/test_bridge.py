"""The example Node/Express bridge in front of real workers: it streams uploads and
audio both ways, skips a worker that is down, and answers 502 when none is up."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openai import AsyncOpenAI
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from harness.bridge import install_bridge, start_bridge
from harness.fake_venice import FakeVenice, venice_env
from harness.processes import (
    DATA,
    JFK_TRANSCRIPT,
    Process,
    decode,
    free_port,
    word_error_rate,
)
from harness.servers import ThreadServer, stop, worker_process
from tests.metrics import Scrape
from tests.realtime.support import TYPED, of_type, recv, until, wav
from voice_worker.stt.base import TranscriptionOptions
from voice_worker.stt.local import LocalWhisperSTT


@pytest.fixture(scope="module")
def node_modules() -> None:
    install_bridge()


@pytest.fixture(scope="module")
def bridge_worker(
    tmp_path_factory: pytest.TempPathFactory, model_server: Process
) -> Iterator[Process]:
    with worker_process(tmp_path_factory.mktemp("bridge-worker"), model_server.address) as worker:
        yield worker


def test_bridge_proxies_speech_and_uploads_and_skips_a_dead_worker(
    node_modules: None, bridge_worker: Process, tmp_path: Path
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    popen, url = start_bridge(tmp_path, [dead, f"http://{bridge_worker.address}"])
    try:
        with httpx.Client(base_url=url, timeout=120) as client:
            for _ in range(2):  # round robin: one of the two starts at the dead worker
                reply = client.post(
                    "/api/voice/tts",
                    json={"text": "Hello through the bridge.", "format": "wav"},
                    headers={"x-request-id": "bridge-test-1"},
                )
                assert reply.status_code == 200, reply.text
                assert reply.headers["content-type"].startswith("audio/wav")
                rate, duration, _ = decode(reply.content)
                assert rate == 22_050 and 0.8 < duration < 4.0
            audio = (DATA / "jfk.flac").read_bytes()
            reply = client.post(
                "/v1/audio/transcriptions",
                files={"file": ("jfk.flac", audio, "audio/flac")},
                data={"model": "whisper-1"},
            )
            assert reply.status_code == 200, reply.text
            assert word_error_rate(JFK_TRANSCRIPT, reply.json()["text"]) <= 0.15
    finally:
        stop(popen)


def test_bridge_answers_502_with_json_when_no_worker_is_up(
    node_modules: None, tmp_path: Path
) -> None:
    popen, url = start_bridge(tmp_path, [f"http://127.0.0.1:{free_port()}"])
    try:
        reply = httpx.post(f"{url}/api/voice/tts", json={"text": "anyone?"}, timeout=30)
        assert reply.status_code == 502
        assert "voice worker unavailable" in reply.json()["error"]["message"]
        assert httpx.get(f"{url}/healthz", timeout=5).json()["status"] == "ok"
    finally:
        stop(popen)


@pytest.fixture(scope="module")
def paced_worker(
    tmp_path_factory: pytest.TempPathFactory, model_server: Process
) -> Iterator[tuple[Process, FakeVenice]]:
    """A worker whose chat model is the fake Venice, paced by the test."""
    fake = FakeVenice()
    with ThreadServer(fake.app) as venice:
        env = {
            **venice_env(f"{venice.url}/api/v1"),
            "VOICE_RESPONSE_CACHE__ENABLED": "false",
            "VOICE_STT__PROVIDER": "mock",
        }
        directory = tmp_path_factory.mktemp("paced-worker")
        with worker_process(directory, model_server.address, env) as worker:
            yield worker, fake


def test_bridge_passes_a_streamed_turn_through_as_it_happens(
    node_modules: None, paced_worker: tuple[Process, FakeVenice], tmp_path: Path
) -> None:
    """The first audio reaches the bridge's client while the reply is still being
    written: the fake chat writes the rest only once the client has heard audio, so a
    bridge that buffered would deliver nothing until the fake gave up. And a client that
    leaves through the bridge stops the turn on the worker (its chat upstream closed)."""
    worker, fake = paced_worker
    popen, url = start_bridge(tmp_path, [f"http://{worker.address}"])
    try:
        with httpx.Client(base_url=url, timeout=60) as client:
            session = client.post("/api/voice/sessions", json={}).json()["id"]
            fake.scenario, kinds = "paced", []
            fake.release.clear()
            with client.stream(
                "POST",
                f"/api/voice/sessions/{session}/text",
                json={"text": "Hello!"},
                headers={"accept": "text/event-stream"},
            ) as response:
                assert response.headers["content-type"].startswith("text/event-stream")
                for line in response.iter_lines():
                    if line.startswith("event: "):
                        kinds.append(line.removeprefix("event: "))
                        if kinds[-1] == "audio.delta" and not fake.release.is_set():
                            heard_before_the_end = "done" not in kinds
                            fake.release.set()
            assert heard_before_the_end and kinds[-1] == "done"
            assert kinds.count("reply.delta") >= 3

            fake.scenario, abandoned = "long", fake.abandoned
            with client.stream(
                "POST",
                f"/api/voice/sessions/{session}/text",
                json={"text": "Tell me more."},
                headers={"accept": "text/event-stream"},
            ) as response:
                for line in response.iter_lines():
                    if line == "event: audio.delta":
                        break  # the client hangs up
            for _ in range(100):
                if fake.abandoned > abandoned:
                    break
                time.sleep(0.05)
            assert fake.abandoned == abandoned + 1
            messages = client.get(f"/api/voice/sessions/{session}/messages").json()["items"]
            assert [m["role"] for m in messages] == ["user", "assistant"]  # the first turn only
    finally:
        fake.release.set()
        stop(popen)


async def test_bridge_passes_the_realtime_websocket_through(
    node_modules: None, paced_worker: tuple[Process, FakeVenice], tmp_path: Path
) -> None:
    """The official SDK's realtime client through the bridge: the handshake skips a dead
    worker, events flow both ways, the reply's audio says the reply, the turn is stored,
    and a client that hangs up ends the worker's connection too."""
    worker, fake = paced_worker
    fake.scenario = "plain"
    dead = f"http://127.0.0.1:{free_port()}"
    popen, url = start_bridge(tmp_path, [dead, f"http://{worker.address}"])
    sdk = AsyncOpenAI(
        base_url=f"{url}/v1",
        websocket_base_url=f"{url.replace('http://', 'ws://')}/v1",
        api_key="unused",
        max_retries=0,
    )
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            for _ in range(2):  # round robin: one of the two handshakes starts at the dead one
                async with sdk.realtime.connect(model="gpt-realtime") as connection:
                    created = await recv(connection)
                    assert created.type == "session.created"
                    session_id = created.session.model_dump()["id"]
                    await connection.conversation.item.create(item=TYPED)
                    await connection.response.create()
                    seen: list[Any] = []
                    done = await until(connection, of_type("response.done"), seen)
                assert done.response.status == "completed"
                said = "".join(
                    e.delta for e in seen if e.type == "response.output_audio_transcript.delta"
                )
                assert said == "Hello from Venice."
                deltas = [e.delta for e in seen if e.type == "response.output_audio.delta"]
                pcm = b"".join(base64.b64decode(delta) for delta in deltas)
                assert len(pcm) % 2 == 0 and 0.5 < len(pcm) / 48_000 < 5  # pcm16, 24 kHz
                heard = await LocalWhisperSTT().transcribe(wav(pcm), TranscriptionOptions("en"))
                assert word_error_rate(said, heard.text) <= 0.15, heard.text
                for _ in range(100):  # the bridge closed the worker's side as well
                    scrape = Scrape((await http.get(f"http://{worker.address}/metrics")).text)
                    if scrape.value("voice_worker_realtime_connections") == 0:
                        break
                    await asyncio.sleep(0.05)
                assert scrape.value("voice_worker_realtime_connections") == 0
                stored = await http.get(f"{url}/api/voice/sessions/{session_id}/messages")
                assert [m["text"] for m in stored.json()["items"]] == ["Hm?", "Hello from Venice."]

        with pytest.raises(InvalidStatus) as refused:  # no other WebSocket is passed on
            async with connect(f"{url.replace('http://', 'ws://')}/api/voice/sessions"):
                pass
        assert refused.value.response.status_code == 404
    finally:
        stop(popen)
