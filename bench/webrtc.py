"""Voice to voice over WebRTC (`POST /v1/realtime/calls`, an aiortc client) against the
realtime WebSocket on the same speech, and the worker's CPU per concurrent call for
both. Embedded models (local faster-whisper, SmolLM2, the Piper voice), one worker
process; server VAD with a 500 ms silence window on both.

The speech: the utterances below (the worker's own voice saying bench.chat's
questions, the real end of each known from its samples). Over WebRTC the microphone is
an aiortc track that hands out each 20 ms frame once its 20 ms have passed on the wall
clock (sample k of an utterance is captured at the track's start + its position / 48
kHz); the WebSocket gets the same speech as 20 ms `input_audio_buffer.append` frames at
the same pace. Between utterances both microphones send quiet noise (about -64 dBFS).

- end of speech -> first audio: WebRTC, to the first audible frame (peak above 1% of
  full scale) on the remote track as the client's jitter buffer hands it out; the
  WebSocket, to the first `response.output_audio.delta`, and to its first audible
  sample as a client playing the deltas from the first one's arrival would hear it
  (the same point WebRTC's track reaches, since the worker paces the track in real
  time). Each reply is cancelled (`response.cancel`) once heard.
- CPU: N = 1, 2, 4 calls (or connections) at once, listening (the microphone's quiet
  noise at real-time pace, server VAD on, no turn): the worker process's user + system
  CPU time over a 10 s window (psutil), less its idle rate, per call. Over WebRTC that
  is the Opus decode of the microphone, the Opus encode of the reply track (silence
  frames between replies), SRTP and the resampling; over the WebSocket, base64 and JSON.

`BENCH_WEBRTC_TURNS` (default 8) utterances per transport, `BENCH_WEBRTC_CPU_SECONDS`
(default 10) per CPU window: about three minutes in all."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fractions
import json
import os
import time
from dataclasses import dataclass
from typing import Any

import av
import httpx
import numpy as np
import psutil
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from websockets.asyncio.client import ClientConnection, connect

from bench.chat import QUESTIONS
from bench.embedded import embedded_worker_process
from bench.report import percentile, print_table, write_result

RATE, TRACK_RATE = 24_000, 48_000
FRAME = TRACK_RATE // 50  # 20 ms at 48 kHz
TURNS = int(os.environ.get("BENCH_WEBRTC_TURNS", "8"))
CPU_SECONDS = float(os.environ.get("BENCH_WEBRTC_CPU_SECONDS", "10"))
CALLS = (1, 2, 4)
AUDIBLE = 0.01 * 32768  # a sample this loud is the reply's voice


@dataclass(frozen=True)
class Utterance:
    """A question in the worker's own voice, without pauses (one turn per utterance on
    both transports: the comparison is of the transport, not of turn-taking, which
    bench/realtime_people.py measures with speech that behaves like people)."""

    text: str
    pcm: bytes  # pcm16 at 24 kHz
    end: float  # seconds into pcm where the speech really ends


def speech_end(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768
    windows = samples[: len(samples) // 240 * 240].reshape(-1, 240)
    rms = np.sqrt(np.mean(np.square(windows), axis=1))
    loud = np.flatnonzero(rms >= 0.05 * rms.max())
    return float(loud[-1] + 1) * 240 / RATE


async def utterances(url: str) -> list[Utterance]:
    out = []
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        for text in QUESTIONS:
            body = {"model": "tts-1", "voice": "alloy", "input": text, "response_format": "pcm"}
            reply = await client.post("/v1/audio/speech", json=body)
            reply.raise_for_status()
            out.append(Utterance(text, reply.content, speech_end(reply.content)))
    return out


NOISE = 20.0  # the microphone's idle noise, in pcm16 units
VAD = {"type": "server_vad", "silence_duration_ms": 500}
SESSION = {"type": "realtime", "audio": {"input": {"turn_detection": VAD}}}
Event = dict[str, Any]


def noise(samples: int) -> np.ndarray:
    return np.random.default_rng().normal(0, NOISE, samples).astype("<i2")


def upsampled(pcm24: bytes) -> np.ndarray:
    frame = av.AudioFrame.from_ndarray(
        np.frombuffer(pcm24, "<i2").reshape(1, -1), format="s16", layout="mono"
    )
    frame.sample_rate = RATE
    resampler = av.AudioResampler(format="s16", layout="mono", rate=TRACK_RATE)
    parts = [*resampler.resample(frame), *resampler.resample(None)]
    return np.concatenate([p.to_ndarray().reshape(-1) for p in parts]).astype("<i2")


class Microphone(MediaStreamTrack):
    """Each 20 ms frame once its 20 ms have passed; quiet noise unless it is saying
    something. `say` resolves to the wall time (perf_counter) of the real end of speech."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self.queued = np.zeros(0, "<i2")
        self.start: float | None = None
        self.pts = 0
        self.pending: list[tuple[asyncio.Future[float], float]] = []

    def say(self, utterance: Utterance) -> asyncio.Future[float]:
        ended: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.pending.append((ended, utterance.end))
        self.queued = np.concatenate([self.queued, upsampled(utterance.pcm)])
        return ended

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self.start is None:
            self.start = time.perf_counter()
        await asyncio.sleep(
            max(0.0, self.start + (self.pts + FRAME) / TRACK_RATE - time.perf_counter())
        )
        chunk = noise(FRAME)
        if len(self.queued):
            for ended, end in self.pending:  # its first sample is this frame's first
                ended.set_result(self.start + self.pts / TRACK_RATE + end)
            self.pending.clear()
            part = self.queued[:FRAME]
            chunk[: len(part)] = part
            self.queued = self.queued[FRAME:]
        frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts = TRACK_RATE, self.pts
        frame.time_base = fractions.Fraction(1, TRACK_RATE)
        self.pts += FRAME
        return frame


class Events:
    """Server events with their arrival times; `next` waits for one of a kind."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, Event]] = []
        self.arrived = asyncio.Event()

    def add(self, text: str | bytes) -> None:
        self.seen.append((time.perf_counter(), json.loads(text)))
        self.arrived.set()

    async def next(self, kind: str, after: int, timeout: float = 60) -> tuple[int, float, Event]:
        deadline = time.perf_counter() + timeout
        i = after
        while True:
            while i < len(self.seen):
                at, event = self.seen[i]
                if event["type"] == kind:
                    return i, at, event
                if event["type"] == "error" and "not_active" not in event["error"]["code"]:
                    raise RuntimeError(event["error"]["message"])
                i += 1
            self.arrived.clear()
            if time.perf_counter() > deadline:
                raise TimeoutError(f"no {kind} in {timeout} s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), 1.0)


class Call:
    """An aiortc client's call: the microphone track out, the reply track in (the time
    of its first audible frame since `listen_from`), the events on `oai-events`."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.channel = self.pc.createDataChannel("oai-events")
        self.events = Events()
        self.channel.on("message", self.events.add)
        self.mic = Microphone()
        self.pc.addTrack(self.mic)
        self.heard: asyncio.Future[float] | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self.pc.on("track", lambda t: self.tasks.append(asyncio.create_task(self._ear(t))))
        self.location = ""

    async def open(self, client: httpx.AsyncClient) -> None:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        answer = await client.post(
            "/v1/realtime/calls",
            files={
                "sdp": (None, self.pc.localDescription.sdp),
                "session": (None, json.dumps(SESSION)),
            },
        )
        answer.raise_for_status()
        self.location = answer.headers["location"]
        await self.pc.setRemoteDescription(RTCSessionDescription(answer.text, "answer"))
        await self.events.next("session.updated", 0, 30)

    def listen(self) -> asyncio.Future[float]:
        self.heard = asyncio.get_running_loop().create_future()
        return self.heard

    async def _ear(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if self.heard is None or self.heard.done():
                continue
            assert isinstance(frame, av.AudioFrame)
            if np.abs(frame.to_ndarray()).max() >= AUDIBLE:
                self.heard.set_result(time.perf_counter())

    def send(self, event: Event) -> None:
        self.channel.send(json.dumps(event))

    async def close(self, client: httpx.AsyncClient) -> None:
        with contextlib.suppress(httpx.HTTPError):
            await client.delete(self.location)
        await self.pc.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


class Socket:
    """The realtime WebSocket with a microphone sending 20 ms appends at the same pace."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.events = Events()
        self.queued = bytearray()
        self.pending: list[tuple[asyncio.Future[float], float]] = []
        self.tasks = [asyncio.create_task(self._read()), asyncio.create_task(self._mic())]

    @classmethod
    async def open(cls, ws_url: str) -> Socket:
        socket = cls(await connect(ws_url + "?model=bench", max_size=None, compression=None))
        await socket.events.next("session.created", 0, 30)
        await socket.send({"type": "session.update", "session": SESSION})
        await socket.events.next("session.updated", 0, 30)
        return socket

    async def _read(self) -> None:
        async for message in self.ws:
            self.events.add(message)

    async def _mic(self) -> None:
        start, tick, size = time.perf_counter(), 0, RATE * 2 // 50
        while True:
            tick += 1
            await asyncio.sleep(max(0.0, start + tick * 0.02 - time.perf_counter()))
            frame = noise(size // 2).tobytes()
            if self.queued:
                for ended, end in self.pending:
                    ended.set_result(start + (tick - 1) * 0.02 + end)
                self.pending.clear()
                part = bytes(self.queued[:size])
                frame = part + frame[len(part) :]
                del self.queued[:size]
            audio = base64.b64encode(frame).decode()
            await self.send({"type": "input_audio_buffer.append", "audio": audio})

    def say(self, utterance: Utterance) -> asyncio.Future[float]:
        ended: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.pending.append((ended, utterance.end))
        self.queued += utterance.pcm
        return ended

    async def send(self, event: Event) -> None:
        await self.ws.send(json.dumps(event))

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.ws.close()


def first_audible(pcm: bytes) -> float:
    """Seconds into `pcm` (24 kHz) of its first audible sample (inf: none)."""
    loud = np.flatnonzero(np.abs(np.frombuffer(pcm, "<i2")) >= AUDIBLE)
    return float(loud[0]) / RATE if len(loud) else float("inf")


async def webrtc_turns(url: str, speech: list[Utterance], turns: int) -> list[float]:
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        call = Call()
        await call.open(client)
        out = []
        try:
            for n in range(turns):
                mark = len(call.events.seen)
                heard = call.listen()
                end = await call.mic.say(speech[n % len(speech)])
                out.append(await asyncio.wait_for(heard, 60) - end)
                call.send({"type": "response.cancel"})
                await call.events.next("response.done", mark)
                await asyncio.sleep(0.5)
        finally:
            await call.close(client)
    return out


async def websocket_turns(
    ws_url: str, speech: list[Utterance], turns: int
) -> tuple[list[float], list[float]]:
    socket = await Socket.open(ws_url)
    deltas, audible = [], []
    try:
        for n in range(turns):
            mark = len(socket.events.seen)
            end = await socket.say(speech[n % len(speech)])
            i, first_at, _ = await socket.events.next("response.output_audio.delta", mark)
            pcm, j = b"", i
            while first_audible(pcm) == float("inf"):  # the deltas until one is audible
                j, _, delta = await socket.events.next("response.output_audio.delta", j)
                pcm += base64.b64decode(delta["delta"])
                j += 1
            deltas.append(first_at - end)
            audible.append(first_at + first_audible(pcm) - end)
            await socket.send({"type": "response.cancel"})
            await socket.events.next("response.done", mark)
            await asyncio.sleep(0.5)
    finally:
        await socket.close()
    return deltas, audible


def cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


async def cpu_window(pid: int) -> float:
    """The worker's CPU (seconds per second) over one window."""
    before, started = cpu_seconds(pid), time.perf_counter()
    await asyncio.sleep(CPU_SECONDS)
    return (cpu_seconds(pid) - before) / (time.perf_counter() - started)


async def cpu_series(url: str, ws_url: str, pid: int) -> list[dict[str, Any]]:
    idle = await cpu_window(pid)
    idle_row = {"transport": "(idle worker)", "calls": 0, "cpu_pct": idle * 100}
    rows: list[dict[str, Any]] = [{**idle_row, "cpu_pct_per_call": None}]
    for transport in ("WebRTC", "WebSocket"):
        for n in CALLS:
            print(f"  CPU: {n} x {transport} ...", flush=True)
            async with httpx.AsyncClient(base_url=url, timeout=60) as client:
                if transport == "WebRTC":
                    calls = [Call() for _ in range(n)]
                    await asyncio.gather(*(c.open(client) for c in calls))
                    await asyncio.sleep(1.0)
                    rate = await cpu_window(pid)
                    await asyncio.gather(*(c.close(client) for c in calls))
                else:
                    sockets = await asyncio.gather(*(Socket.open(ws_url) for _ in range(n)))
                    await asyncio.sleep(1.0)
                    rate = await cpu_window(pid)
                    await asyncio.gather(*(s.close() for s in sockets))
            rows.append(
                {
                    "transport": transport,
                    "calls": n,
                    "cpu_pct": rate * 100,
                    "cpu_pct_per_call": (rate - idle) * 100 / n,
                }
            )
            await asyncio.sleep(1.0)
    return rows


def latency_row(transport: str, point: str, values: list[float]) -> dict[str, Any]:
    return {
        "transport": transport,
        "to": point,
        "n": len(values),
        "end_to_first_audio_p50_ms": percentile(values, 50) * 1000,
        "end_to_first_audio_p95_ms": percentile(values, 95) * 1000,
    }


async def run(url: str, pid: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    ws_url = url.replace("http://", "ws://") + "/v1/realtime"
    speech = (await utterances(url))[: max(TURNS, 2)]
    print("  warm-up ...", flush=True)
    await websocket_turns(ws_url, speech, 2)
    await webrtc_turns(url, speech, 1)
    print("  WebRTC turns ...", flush=True)
    rtc = await webrtc_turns(url, speech, TURNS)
    print("  WebSocket turns ...", flush=True)
    deltas, audible = await websocket_turns(ws_url, speech, TURNS)
    latency = [
        latency_row("WebRTC", "first audible frame on the track", rtc),
        latency_row("WebSocket", "first audio delta", deltas),
        latency_row("WebSocket", "first audible sample (played from the first delta)", audible),
    ]
    return latency, await cpu_series(url, ws_url, pid)


def main() -> None:
    with embedded_worker_process() as (url, pid):
        latency, cpu = asyncio.run(run(url, pid))
    print_table("voice to voice: end of speech -> first reply audio (server VAD 500 ms)", latency)
    print_table(f"worker CPU, calls listening ({CPU_SECONDS:.0f} s each; % of one core)", cpu)
    write_result("webrtc", {"latency": latency, "cpu": cpu})


if __name__ == "__main__":
    main()
