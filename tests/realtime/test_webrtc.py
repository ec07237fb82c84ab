"""The realtime protocol over WebRTC (`POST /v1/realtime/calls`), with an aiortc client
as a browser would call: its microphone track plays jfk.flac in real time, the events
go on the data channel `oai-events`, the reply comes back as an Opus track; the
transcript matches and the reply track's audio says the reply's transcript. A
malformed offer is a 400 naming the problem; a call that never connects is ended and
leaves nothing behind."""

from __future__ import annotations

import asyncio
import fractions
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import av
import httpx
import numpy as np
import pytest
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from fastapi import FastAPI

from harness.fake_venice import FakeVenice
from harness.processes import JFK_TRANSCRIPT, Process, word_error_rate
from harness.servers import ThreadServer
from tests.realtime.conftest import Worker, worker_settings
from tests.realtime.support import jfk_pcm, silence
from tests.realtime.test_conversation import heard
from voice_worker.app import create_app
from voice_worker.realtime.audio import voiced_span
from voice_worker.realtime.webrtc.call import Call
from voice_worker.stt.local import LocalWhisperSTT

pytestmark = pytest.mark.slow
RATE = 48_000
FRAME = RATE // 50


class Microphone(MediaStreamTrack):
    """pcm16 24 kHz as a microphone would give it: 20 ms frames at 48 kHz, in real time,
    then silence."""

    kind = "audio"

    def __init__(self, pcm24: bytes) -> None:
        super().__init__()
        samples = np.frombuffer(pcm24, "<i2").astype(np.float32)
        wide = np.interp(np.arange(len(samples) * 2) / 2, np.arange(len(samples)), samples)
        self.samples = wide.astype("<i2")
        self.pts = 0
        self.start: float | None = None

    def say(self, pcm24: bytes) -> None:
        """Speak `pcm24` from now on (instead of what was still to come)."""
        samples = np.frombuffer(pcm24, "<i2").astype(np.float32)
        wide = np.interp(np.arange(len(samples) * 2) / 2, np.arange(len(samples)), samples)
        self.samples = np.concatenate([self.samples[: self.pts], wide.astype("<i2")])

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        self.start = self.start or time.monotonic()
        await asyncio.sleep(max(0.0, self.start + self.pts / RATE - time.monotonic()))
        chunk = np.zeros(FRAME, "<i2")
        part = self.samples[self.pts : self.pts + FRAME]
        chunk[: len(part)] = part
        frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts = RATE, self.pts
        frame.time_base = fractions.Fraction(1, RATE)
        self.pts += FRAME
        return frame


async def record(track: MediaStreamTrack, into: bytearray) -> None:
    """The remote track's audio as pcm16 mono at 24 kHz."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=24_000)
    while True:
        try:
            frame = await track.recv()
        except MediaStreamError:
            return
        assert isinstance(frame, av.AudioFrame)
        for out in resampler.resample(frame):
            into += out.to_ndarray().astype("<i2").tobytes()


@pytest.fixture(scope="module")
def ear() -> LocalWhisperSTT:
    return LocalWhisperSTT()


@dataclass
class Callee(Worker):
    app: FastAPI | None = None

    @property
    def calls(self) -> dict[str, Call]:
        assert self.app is not None
        calls: dict[str, Call] = self.app.state.realtime.calls
        return calls


@pytest.fixture(scope="module")
def callee(
    model_server: Process,
    fake: tuple[FakeVenice, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callee]:
    """A worker whose calls must connect within 2 s."""
    venice, venice_url = fake
    settings = worker_settings(
        model_server, venice_url, tmp_path_factory.mktemp("webrtc"), webrtc_connect_seconds=2.0
    )
    app = create_app(settings)
    with ThreadServer(app) as server:
        yield Callee(server.url, venice, app)
    venice.release.set()


async def offer(pc: RTCPeerConnection) -> str:
    await pc.setLocalDescription(await pc.createOffer())
    return pc.localDescription.sdp


async def test_a_call_over_webrtc(callee: Callee, ear: LocalWhisperSTT) -> None:
    callee.fake.scenario = "paced"
    callee.fake.release.set()  # three sentences at once
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    channel = pc.createDataChannel("oai-events")
    events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    channel.on("message", lambda m: events.put_nowait(json.loads(m)))
    pc.addTrack(Microphone(jfk_pcm() + silence(3.0)))
    reply = bytearray()
    tracks: list[asyncio.Task[None]] = []
    pc.on("track", lambda t: tracks.append(asyncio.create_task(record(t, reply))))
    opened = asyncio.Event()
    channel.on("open", opened.set)
    session = {
        "type": "realtime",
        "audio": {"input": {"turn_detection": {"type": "server_vad", "silence_duration_ms": 1500}}},
    }
    async with httpx.AsyncClient(base_url=callee.url, timeout=30) as client:
        answer = await client.post(
            "/v1/realtime/calls",
            files={"sdp": (None, await offer(pc)), "session": (None, json.dumps(session))},
        )
        assert answer.status_code == 201, answer.text
        assert answer.headers["content-type"].startswith("application/sdp")
        location = answer.headers["location"]
        assert location.startswith("/v1/realtime/calls/rtc_")
        await pc.setRemoteDescription(RTCSessionDescription(answer.text, "answer"))
        await asyncio.wait_for(opened.wait(), 20)
        seen: list[dict[str, Any]] = []
        while not seen or seen[-1]["type"] != "response.done":
            seen.append(await asyncio.wait_for(events.get(), 90))
        kinds = [e["type"] for e in seen]
        assert kinds[:2] == ["session.created", "session.updated"]  # the form's session
        assert seen[1]["session"]["audio"]["input"]["turn_detection"]["silence_duration_ms"] == 1500
        assert "response.output_audio.delta" not in kinds  # the audio is on the track
        said = next(e for e in seen if e["type"].endswith("transcription.completed"))
        assert word_error_rate(JFK_TRANSCRIPT, said["transcript"]) <= 0.15, said
        done = seen[-1]["response"]
        assert done["status"] == "completed"
        transcript = done["output"][0]["content"][0]["transcript"]
        await asyncio.sleep(6.0)  # the track plays in real time
        hung_up = await client.delete(location)
        assert hung_up.status_code == 204
        assert (await client.delete(location)).status_code == 404
    await pc.close()
    await asyncio.gather(*tracks, return_exceptions=True)
    span = voiced_span(bytes(reply))  # the track is silent but for the reply
    assert span is not None and span[1] - span[0] > 2.0
    start, end = (max(0, int((span[0] - 0.2) * 24_000)) * 2, int((span[1] + 0.2) * 24_000) * 2)
    assert word_error_rate(transcript, await heard(ear, bytes(reply[start:end]))) <= 0.15
    assert not callee.calls


async def test_a_call_that_never_connects_is_ended(callee: Callee) -> None:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.createDataChannel("oai-events")
    pc.addTrack(Microphone(silence(1.0)))
    async with httpx.AsyncClient(base_url=callee.url, timeout=30) as client:
        answer = await client.post(
            "/v1/realtime/calls",
            content=await offer(pc),
            headers={"content-type": "application/sdp"},
        )
    assert answer.status_code == 201
    call_id = answer.headers["location"].rsplit("/", 1)[1]
    call = callee.calls[call_id]
    await pc.close()  # the client goes away without ever setting the answer
    deadline = time.monotonic() + 10
    while call_id in callee.calls and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    assert call_id not in callee.calls
    assert not call.tasks and call.pc.connectionState == "closed"
    assert call.reply.readyState == "ended"


async def test_speaking_over_a_reply_on_a_call_stops_its_track(callee: Callee) -> None:
    callee.fake.scenario = "long"  # twelve sentences: half a minute of voice
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    channel = pc.createDataChannel("oai-events")
    events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    channel.on("message", lambda m: events.put_nowait(json.loads(m)))
    microphone = Microphone(jfk_pcm() + silence(30.0))
    pc.addTrack(microphone)
    reply = bytearray()
    tracks: list[asyncio.Task[None]] = []
    pc.on("track", lambda t: tracks.append(asyncio.create_task(record(t, reply))))
    async with httpx.AsyncClient(base_url=callee.url, timeout=30) as client:
        answer = await client.post(
            "/v1/realtime/calls",
            content=await offer(pc),
            headers={"content-type": "application/sdp"},
        )
        assert answer.status_code == 201
        await pc.setRemoteDescription(RTCSessionDescription(answer.text, "answer"))
        vad = {"type": "server_vad", "silence_duration_ms": 1500}
        update = {
            "type": "session.update",
            "session": {"type": "realtime", "audio": {"input": {"turn_detection": vad}}},
        }
        while channel.readyState != "open":  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        channel.send(json.dumps(update))
        seen: list[dict[str, Any]] = []
        while not any(e["type"] == "response.output_audio_transcript.delta" for e in seen):
            seen.append(await asyncio.wait_for(events.get(), 90))
        heard_from = len(reply)
        while voiced_span(bytes(reply[heard_from:])) is None:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # a second of the reply has played
        microphone.say(jfk_pcm()[: 48_000 * 3] + silence(30.0))  # the caller speaks over it
        said_at = len(reply)
        while seen[-1]["type"] != "response.done":
            seen.append(await asyncio.wait_for(events.get(), 30))
        done = seen[-1]["response"]
        assert done["status"] == "cancelled"
        assert done["status_details"]["reason"] == "turn_detected"
        await asyncio.sleep(1.0)
        after = bytes(reply[said_at:])
        voiced = voiced_span(after)
        # the track stopped soon after the caller spoke (speech_started takes ~0.3 s)
        assert voiced is None or voiced[1] < 1.5, voiced
        item = done["output"][0]
        channel.send(
            json.dumps(
                {
                    "type": "conversation.item.truncate",
                    "item_id": item["id"],
                    "content_index": 0,
                    "audio_end_ms": 1000,
                }
            )
        )
        while seen[-1]["type"] != "conversation.item.truncated":
            seen.append(await asyncio.wait_for(events.get(), 30))
        assert seen[-1]["audio_end_ms"] == 1000
        assert (await client.delete(answer.headers["location"])).status_code == 204
        session_id = seen[0]["session"]["id"]
        page = await client.get(f"/api/voice/sessions/{session_id}/messages")
    await pc.close()
    await asyncio.gather(*tracks, return_exceptions=True)
    assert not callee.calls
    said, stored = [m["text"] for m in page.json()["items"]][:2]
    assert word_error_rate(JFK_TRANSCRIPT, said) <= 0.15
    first = "Sentence number 0 keeps the voice busy for a while."
    assert 0 < len(stored) < len(first) and first.startswith(stored), stored  # as heard


@pytest.fixture(scope="module")
def impatient(
    model_server: Process,
    fake: tuple[FakeVenice, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callee]:
    """A worker that ends a call after 3 s of nothing."""
    venice, venice_url = fake
    data = tmp_path_factory.mktemp("webrtc-idle")
    settings = worker_settings(model_server, venice_url, data, webrtc_idle_seconds=3.0)
    app = create_app(settings)
    with ThreadServer(app) as server:
        yield Callee(server.url, venice, app)


async def test_a_silent_call_ends_when_idle(impatient: Callee) -> None:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    channel = pc.createDataChannel("oai-events")
    events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    channel.on("message", lambda m: events.put_nowait(json.loads(m)))
    pc.addTrack(Microphone(silence(60.0)))  # a muted microphone
    async with httpx.AsyncClient(base_url=impatient.url, timeout=30) as client:
        answer = await client.post(
            "/v1/realtime/calls",
            content=await offer(pc),
            headers={"content-type": "application/sdp"},
        )
    await pc.setRemoteDescription(RTCSessionDescription(answer.text, "answer"))
    assert (await asyncio.wait_for(events.get(), 20))["type"] == "session.created"
    call_id = answer.headers["location"].rsplit("/", 1)[1]
    call = impatient.calls[call_id]
    started = time.monotonic()
    while call_id in impatient.calls and time.monotonic() - started < 15:  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    assert call_id not in impatient.calls
    assert 2.5 <= time.monotonic() - started <= 6.0  # the idle bound, not before
    assert not call.tasks and call.pc.connectionState == "closed"
    await pc.close()


def without(prefix: str) -> Callable[[str], str]:
    return lambda sdp: "\r\n".join(x for x in sdp.split("\r\n") if not x.startswith(prefix))


AUDIO_ONLY = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
)
MALFORMED: list[tuple[Callable[[str], str], str]] = [
    (lambda sdp: "hello", "starts with v=0"),
    (lambda sdp: AUDIO_ONLY, "no data channel (m=application)"),
    (lambda sdp: sdp.replace("m=audio", "m=video"), "no audio (m=audio)"),
    (lambda sdp: sdp.replace("opus/48000/2", "speex/48000"), "no Opus"),
    (without("a=fingerprint"), "no DTLS fingerprint"),
    (without("a=ice-ufrag"), "ICE username fragment"),
    (
        lambda sdp: "v=0\r\nm=audio x opus/48000\r\na=fingerprint:x\r\nm=application y\r\n",
        "not a usable offer",
    ),
    (lambda sdp: sdp.replace(" opus/48000/2", "opus/48000/2"), "not a usable offer"),
    (lambda sdp: sdp.replace("a=mid:0", "a=mid:"), "not a usable offer"),  # aiortc half-built
]


@pytest.mark.parametrize(("spoil", "says"), MALFORMED)
async def test_a_malformed_offer_is_a_400_naming_the_problem(
    callee: Callee, spoil: Callable[[str], str], says: str
) -> None:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.createDataChannel("oai-events")
    pc.addTrack(Microphone(silence(0.1)))
    body = spoil(await offer(pc))
    await pc.close()
    async with httpx.AsyncClient(base_url=callee.url, timeout=30) as client:
        answer = await client.post(
            "/v1/realtime/calls", content=body, headers={"content-type": "application/sdp"}
        )
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["param"] == "sdp" and says in error["message"], error
    assert not callee.calls  # nothing left of the call that was refused


@pytest.fixture(scope="module")
def small_buffer(
    model_server: Process,
    fake: tuple[FakeVenice, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callee]:
    """A worker whose input buffer holds 1 s."""
    venice, venice_url = fake
    data = tmp_path_factory.mktemp("webrtc-buffer")
    settings = worker_settings(model_server, venice_url, data, max_buffer_seconds=1.0)
    app = create_app(settings)
    with ThreadServer(app) as server:
        yield Callee(server.url, venice, app)


async def test_push_to_talk_past_a_full_buffer_is_one_error_until_cleared(
    small_buffer: Callee,
) -> None:
    """Push to talk over a call: the track keeps coming between turns (a muted one is
    silence), so the buffer fills; that is said once, not 50 times a second, and after
    input_audio_buffer.clear the track goes in again (and fills it again: said again)."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    channel = pc.createDataChannel("oai-events")
    events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    channel.on("message", lambda m: events.put_nowait(json.loads(m)))
    pc.addTrack(Microphone(silence(60.0)))
    session = {"type": "realtime", "audio": {"input": {"turn_detection": None}}}
    async with httpx.AsyncClient(base_url=small_buffer.url, timeout=30) as client:
        answer = await client.post(
            "/v1/realtime/calls",
            files={"sdp": (None, await offer(pc)), "session": (None, json.dumps(session))},
        )
        await pc.setRemoteDescription(RTCSessionDescription(answer.text, "answer"))
        seen = [await asyncio.wait_for(events.get(), 20)]
        await asyncio.sleep(3.0)  # 1 s fills the buffer, 2 s more are refused
        channel.send(json.dumps({"type": "input_audio_buffer.clear"}))
        await asyncio.sleep(2.5)  # cleared, then full again
        while not events.empty():
            seen.append(events.get_nowait())
        assert (await client.delete(answer.headers["location"])).status_code == 204
    await pc.close()
    errors = [e["error"]["code"] for e in seen if e["type"] == "error"]
    assert errors == ["input_audio_buffer_full", "input_audio_buffer_full"], seen
    assert "input_audio_buffer.cleared" in [e["type"] for e in seen]
