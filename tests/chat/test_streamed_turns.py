"""Streamed turns (`Accept: text/event-stream`) end to end, in one process: a worker on
uvicorn, the fake Venice streaming the reply (paced by the test), and a model server
whose Piper voice records each sentence it speaks. The first audio comes before the
reply is written; the audio is one valid file that says the reply; a client that
leaves, a chat that breaks and a model server that dies each stop the turn cleanly,
with nothing stored."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.fake_venice import KEY, FakeVenice
from harness.processes import DATA, JFK_TRANSCRIPT, decode, word_error_rate
from harness.servers import ThreadServer
from model_server.backends.base import FloatArray, SynthesisJob
from model_server.backends.piper import PiperBackend, bundled_voice_path
from shared.audio.formats import AudioFormat
from tests.model_server.servers import Served, served
from voice_worker.app import create_app
from voice_worker.settings import Settings
from voice_worker.stt.base import TranscriptionOptions
from voice_worker.stt.local import LocalWhisperSTT

pytestmark = pytest.mark.slow
SSE = {"accept": "text/event-stream"}


class RecordingPiper(PiperBackend):
    def __init__(self) -> None:
        super().__init__(bundled_voice_path())
        self.texts: list[str] = []

    def stream(self, job: SynthesisJob) -> Iterator[FloatArray]:
        self.texts.append(job.text)
        return super().stream(job)

    def synthesize_batch(self, jobs: Sequence[SynthesisJob]) -> list[FloatArray]:
        self.texts += [job.text for job in jobs]
        return super().synthesize_batch(jobs)


@dataclass
class Engine:
    url: str
    fake: FakeVenice
    models: Served
    voice: RecordingPiper


@pytest.fixture
async def engine(fake_venice: tuple[FakeVenice, str], tmp_path: Path) -> AsyncIterator[Engine]:
    fake, venice_url = fake_venice
    fake.release.clear()
    async with served() as models:
        entry = models.running.synthesizer.registry.entry("piper-joe")
        voice = RecordingPiper()
        voice.load()
        entry.backend = voice
        settings = Settings(
            stt={"provider": "local"},
            tts={"model_server": f"127.0.0.1:{models.running.port}", "max_retries": 0},
            chat={
                "provider": "venice",
                "max_retries": 0,
                "venice": {"api_key": KEY, "base_url": venice_url},
            },
            response_cache={"enabled": False},
            database={"tts_models_sync_seconds": 0},
            data_dir=tmp_path,
            access_log=False,
        )
        worker = ThreadServer(create_app(settings))
        await asyncio.to_thread(worker.__enter__)  # this loop serves the model server
        try:
            yield Engine(worker.url, fake, models, voice)
        finally:
            fake.release.set()
            await asyncio.to_thread(worker.__exit__, None, None, None)


async def events(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """The Server-Sent Events of `response`, as the `data` objects (checked against
    their `event:` lines)."""
    name = ""
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            data = json.loads(line.removeprefix("data: "))
            assert data["type"] == name
            yield data


async def new_session(client: httpx.AsyncClient, fmt: str = "wav") -> str:
    reply = await client.post("/api/voice/sessions", json={"settings": {"audio_format": fmt}})
    return str(reply.json()["id"])


async def history(client: httpx.AsyncClient, session: str) -> list[str]:
    page = (await client.get(f"/api/voice/sessions/{session}/messages")).json()
    return [m["text"] for m in page["items"]]


async def test_first_audio_before_the_reply_is_written(engine: Engine) -> None:
    engine.fake.scenario = "paced"
    async with httpx.AsyncClient(base_url=engine.url, timeout=60) as client:
        session = await new_session(client)
        kinds: list[str] = []
        audio, reply, done = bytearray(), [], None
        async with client.stream(
            "POST", f"/api/voice/sessions/{session}/text", json={"text": "Hi!"}, headers=SSE
        ) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            async for event in events(response):
                kinds.append(event["type"])
                if event["type"] == "audio.delta":
                    audio += base64.b64decode(event["audio"])
                    engine.fake.release.set()  # only now may the rest of the reply come
                elif event["type"] == "reply.delta":
                    reply.append(event["text"])
                elif event["type"] == "done":
                    done = event
        assert kinds.index("audio.delta") < len(kinds) - 1 - kinds[::-1].index("reply.delta")
        assert kinds[-1] == "done" and done is not None
        text = "".join(reply).strip()
        assert (
            text
            == done["reply_text"]
            == ("The first sentence is short. The second one comes later. And a third one ends it.")
        )
        assert engine.voice.texts == [
            "The first sentence is short.",
            "The second one comes later.",
            "And a third one ends it.",
        ]
        rate, seconds, _ = decode(bytes(audio))  # the deltas are one valid file
        assert rate == 22050 and seconds == pytest.approx(done["audio_duration"], abs=0.05)
        heard = await LocalWhisperSTT().transcribe(bytes(audio), TranscriptionOptions("en"))
        assert word_error_rate(text, heard.text) <= 0.15, heard.text
        timings = done["timings"]
        assert timings["first_audio"] < timings["chat"] <= timings["total"]
        assert done["usage"] == {"prompt_tokens": 12, "completion_tokens": 7}
        assert await history(client, session) == ["Hi!", text]
        stored = (await client.get(f"/api/voice/sessions/{session}/messages")).json()["items"]
        assert stored[1]["id"] == done["assistant_message_id"]


async def test_a_spoken_turn_streams_its_transcript_first(engine: Engine) -> None:
    engine.fake.scenario = "plain"
    engine.fake.release.set()
    async with httpx.AsyncClient(base_url=engine.url, timeout=60) as client:
        session = await new_session(client, "mp3")
        files = {"audio": ("jfk.flac", (DATA / "jfk.flac").read_bytes(), "audio/flac")}
        async with client.stream(
            "POST", f"/api/voice/sessions/{session}/messages", files=files, headers=SSE
        ) as response:
            received = [event async for event in events(response)]
    assert received[0]["type"] == "transcript"
    assert word_error_rate(JFK_TRANSCRIPT, received[0]["text"]) <= 0.15
    audio = b"".join(base64.b64decode(e["audio"]) for e in received if e["type"] == "audio.delta")
    rate, seconds, _ = decode(audio)
    assert rate == 22050 and seconds > 0.5
    assert received[-1]["type"] == "done" and received[-1]["timings"]["stt"] > 0


async def test_a_client_that_leaves_stops_chat_and_synthesis_and_stores_nothing(
    engine: Engine,
) -> None:
    engine.fake.scenario = "long"
    abandoned = engine.fake.abandoned
    async with httpx.AsyncClient(base_url=engine.url, timeout=60) as client:
        session = await new_session(client)
        async with client.stream(
            "POST", f"/api/voice/sessions/{session}/text", json={"text": "Go on."}, headers=SSE
        ) as response:
            async for event in events(response):
                if event["type"] == "audio.delta":
                    break  # the listener hangs up after the first audio
        for _ in range(100):
            if engine.fake.abandoned > abandoned:
                break
            await asyncio.sleep(0.05)
        assert engine.fake.abandoned == abandoned + 1  # the chat upstream saw it close
        await asyncio.sleep(1.0)
        spoken = len(engine.voice.texts)
        await asyncio.sleep(1.0)
        assert len(engine.voice.texts) == spoken, "synthesis went on"
        assert spoken <= 4, f"{spoken} of 12 sentences synthesized for a listener who left"
        assert await history(client, session) == []
        assert (await client.get("/healthz")).status_code == 200


async def test_a_chat_that_breaks_mid_reply_is_an_error_event(engine: Engine) -> None:
    engine.fake.scenario = "broken"
    async with httpx.AsyncClient(base_url=engine.url, timeout=60) as client:
        session = await new_session(client)
        async with client.stream(
            "POST", f"/api/voice/sessions/{session}/text", json={"text": "Hm?"}, headers=SSE
        ) as response:
            received = [event async for event in events(response)]
        assert received[-1]["type"] == "error", received[-1]
        error = received[-1]["error"]
        assert error["type"] == "upstream_error" and "venice" in error["message"]
        assert "reply.delta" in [e["type"] for e in received]  # it had begun
        assert await history(client, session) == []
        engine.fake.scenario = "plain"
        again = await client.post(f"/api/voice/sessions/{session}/text", json={"text": "Hm?"})
        assert again.status_code == 200  # the worker is fine


async def test_a_model_server_that_dies_mid_reply_is_an_error_event(engine: Engine) -> None:
    engine.fake.scenario = "paced"
    async with httpx.AsyncClient(base_url=engine.url, timeout=60) as client:
        session = await new_session(client)
        async with client.stream(
            "POST", f"/api/voice/sessions/{session}/text", json={"text": "Hi"}, headers=SSE
        ) as response:
            received = []
            async for event in events(response):
                received.append(event)
                if event["type"] == "audio.delta" and not engine.fake.release.is_set():
                    await engine.models.running.server.stop(grace=0)  # the model server dies
                    engine.fake.release.set()
        assert received[-1]["type"] == "error", received[-1]
        assert "model server" in received[-1]["error"]["message"]
        assert await history(client, session) == []
        assert (await client.get("/healthz")).status_code == 200


async def test_without_the_header_a_turn_is_json_as_before(engine: Engine) -> None:
    engine.fake.scenario = "plain"
    async with httpx.AsyncClient(base_url=engine.url, timeout=60) as client:
        session = await new_session(client, AudioFormat.MP3.value)
        reply = await client.post(f"/api/voice/sessions/{session}/text", json={"text": "Hey"})
    body = reply.json()
    assert reply.headers["content-type"] == "application/json"
    assert body["reply_text"] == "Hello from Venice." and body["usage"]["completion_tokens"] == 7
    rate, seconds, _ = decode(base64.b64decode(body["audio_base64"]))
    assert rate == 22050 and seconds == pytest.approx(body["audio_duration"], abs=0.05)


async def test_a_long_first_sentence_is_heard_from_its_first_clause(engine: Engine) -> None:
    """The first audio says the first clause of the reply, before the rest of its first
    sentence is even written (the fake writes it only once audio has arrived)."""
    engine.fake.scenario = "clause"
    async with httpx.AsyncClient(base_url=engine.url, timeout=60) as client:
        session = await new_session(client, "pcm")
        marks: list[tuple[int, str]] = []  # (byte offset, the text whose audio starts)
        audio, done = bytearray(), None
        async with client.stream(
            "POST", f"/api/voice/sessions/{session}/text", json={"text": "Hi!"}, headers=SSE
        ) as response:
            async for event in events(response):
                if event["type"] == "audio.delta":
                    if event.get("text"):
                        marks.append((len(audio), event["text"]))
                    audio += base64.b64decode(event["audio"])
                    engine.fake.release.set()
                elif event["type"] == "done":
                    done = event
    assert done is not None
    clause = "Well, the best city to visit is Paris,"
    assert marks[0] == (0, clause)
    assert [text for _, text in marks[1:]] == [
        "a city of art and light that millions of people visit every single year.",
        "It is lovely.",
    ]
    assert engine.voice.texts[0] == clause
    first = bytes(audio[: marks[1][0]])  # the first clause's audio alone, pcm16 at 22050 Hz
    from shared.audio.encoding import wav_header

    heard = await LocalWhisperSTT().transcribe(
        wav_header(22050, len(first)) + first, TranscriptionOptions("en")
    )
    assert word_error_rate(clause, heard.text) <= 0.2, heard.text
