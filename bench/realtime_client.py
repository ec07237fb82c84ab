"""The realtime benchmark's client: one `/v1/realtime` connection driven like a
microphone (20 ms pcm16 frames on the wall clock; between utterances the room goes on:
silence, or the noise the last utterance was said in; nothing at all in push to talk),
every server event kept with the time it arrived; and what the worker tells besides
(the sessions API's stored messages, /metrics)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import ClientConnection, connect

from harness.people import Spoken, noise

RATE = 24_000
FRAME_BYTES = RATE * 2 // 50  # 20 ms
FRAME_SECONDS = 0.02
Event = dict[str, Any]
LATE_CANCEL = {"response_cancel_not_active"}  # a cancel that came after the reply ended
ROOM_SECONDS = 10  # the room's noise is looped from this much of it


class Connection:
    def __init__(self, ws: ClientConnection, always_on: bool) -> None:
        self.ws = ws
        self.always_on = always_on
        self.events: list[tuple[float, Event]] = []
        self.arrived = asyncio.Event()
        self.speech = bytearray()
        self.room = b"\0" * FRAME_BYTES  # what the microphone hears when no one speaks
        self.room_at = 0
        self.sent_bytes = 0  # audio sent so far (the server's input clock)
        self.on_start: list[Callable[[float, int], None]] = []  # first frame of an utterance
        self.after: list[Callable[[], Any]] = []  # once the queued speech is sent
        self.tasks = [asyncio.create_task(self._read()), asyncio.create_task(self._mic())]

    async def _read(self) -> None:
        async for message in self.ws:
            self.events.append((time.perf_counter(), json.loads(message)))
            self.arrived.set()

    def _room_frame(self) -> bytes:
        if self.room_at + FRAME_BYTES > len(self.room):
            self.room_at = 0
        frame = self.room[self.room_at : self.room_at + FRAME_BYTES]
        self.room_at += FRAME_BYTES
        return frame

    async def _mic(self) -> None:
        start, tick = time.perf_counter(), 0
        while True:
            tick += 1
            await asyncio.sleep(max(0.0, start + tick * FRAME_SECONDS - time.perf_counter()))
            if self.speech:
                frame = bytes(self.speech[:FRAME_BYTES])
                del self.speech[:FRAME_BYTES]
            elif self.always_on:
                frame = self._room_frame()
            else:
                frame = b""
            if frame:
                now = time.perf_counter()
                for callback in self.on_start:
                    callback(now - FRAME_SECONDS, self.sent_bytes)
                self.on_start.clear()
                await self.send({"type": "input_audio_buffer.append", "audio": b64(frame)})
                self.sent_bytes += len(frame)
            if not self.speech and self.after:
                for action in self.after:
                    await action()
                self.after.clear()

    async def send(self, event: Event) -> None:
        await self.ws.send(json.dumps(event))

    def say(
        self, spoken: Spoken, pcm: bytes | None = None, then: Callable[[], Any] | None = None
    ) -> asyncio.Future[tuple[float, float]]:
        """Say `spoken` (or `pcm`, a cut of it) from the next frame on, dropping what was
        still queued, and from then on hear the room it was said in; resolves to (wall
        time of its end of speech, the server's input time of it in seconds). Sample k
        was "captured" at (its first frame's send time - 20 ms + k / RATE)."""
        loop = asyncio.get_running_loop()
        ended: asyncio.Future[tuple[float, float]] = loop.create_future()
        end = spoken.speech_end_s

        def started(captured: float, offset: int) -> None:
            ended.set_result((captured + end, offset / (RATE * 2) + end))

        self.on_start.append(started)
        self.speech[:] = spoken.pcm if pcm is None else pcm
        self.room = room_of(spoken)
        self.room_at = 0
        if then is not None:
            self.after.append(then)
        return ended

    async def next(
        self, kind: str | tuple[str, ...], after: int, timeout: float = 60
    ) -> tuple[int, float, Event]:
        """The first event of `kind` at index >= `after`: (index, arrival, event)."""
        kinds = (kind,) if isinstance(kind, str) else kind
        return await self.first(lambda _, e: e["type"] in kinds, after, timeout, f"no {kinds}")

    async def first(
        self, wanted: Callable[[float, Event], bool], after: int, timeout: float, what: str = ""
    ) -> tuple[int, float, Event]:
        """The first event at index >= `after` for which `wanted(arrival, event)`."""
        deadline = time.perf_counter() + timeout
        i = after
        while True:
            while i < len(self.events):
                at, event = self.events[i]
                if wanted(at, event):
                    return i, at, event
                if event["type"] == "error" and event["error"]["code"] not in LATE_CANCEL:
                    raise RuntimeError(event["error"]["message"])
                i += 1
            self.arrived.clear()
            left = deadline - time.perf_counter()
            if left <= 0:
                raise TimeoutError(f"{what or 'no such event'} in {timeout} s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), left)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.ws.close()


_ROOMS: dict[float, bytes] = {}


def room_of(spoken: Spoken) -> bytes:
    """The room `spoken` was said in, looped by the microphone after it (its noise at the
    same level, another stretch of it; silence when it is clean)."""
    if spoken.noise_rms == 0:
        return b"\0" * FRAME_BYTES
    if spoken.noise_rms not in _ROOMS:
        _ROOMS[spoken.noise_rms] = noise(spoken.noise_rms, ROOM_SECONDS * RATE, seed=99)
    return _ROOMS[spoken.noise_rms]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def audio_ms(event: Event) -> float:
    """The length of a response.output_audio.delta's pcm16 24 kHz audio."""
    return len(base64.b64decode(event["delta"])) / (RATE * 2) * 1000


async def open_connection(ws_url: str, vad: dict[str, Any] | None) -> tuple[Connection, str]:
    ws = await connect(ws_url + "?model=bench", max_size=None, compression=None)
    connection = Connection(ws, always_on=vad is not None)
    _, _, created = await connection.next("session.created", 0)
    session = {"type": "realtime", "audio": {"input": {"turn_detection": vad}}}
    await connection.send({"type": "session.update", "session": session})
    await connection.next("session.updated", 0)
    return connection, created["session"]["id"]


async def messages(url: str, session_id: str) -> list[dict[str, Any]]:
    """The session's stored messages, oldest first."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        page = await client.get(f"/api/voice/sessions/{session_id}/messages?limit=200")
    page.raise_for_status()
    items: list[dict[str, Any]] = page.json()["items"]
    return items


async def server_timings(url: str, session_id: str) -> dict[str, float]:
    """The worker's own stage timings of the session's last stored reply."""
    replies = [m for m in await messages(url, session_id) if m["role"] == "assistant"]
    return dict(replies[-1]["timings"]) if replies else {}


SPECULATIVE = "voice_worker_speculative_tokens"


async def speculative_counters(url: str) -> dict[str, float]:
    """The worker's speculative tokens by outcome (`used`, `wasted`: replies written
    ahead, voice_worker_speculative_tokens_total); empty where it has no such metric."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        reply = await client.get("/metrics")
    if reply.status_code != 200:
        return {}
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(reply.text):
        if family.name == SPECULATIVE and family.type == "counter":
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    outcome = sample.labels.get("outcome", "")
                    out[outcome] = out.get(outcome, 0.0) + sample.value
    return out


def wasted_tokens(before: dict[str, float], after: dict[str, float]) -> float | None:
    """The speculative tokens wasted between two readings (None: the worker counts
    none)."""
    if not after:
        return None
    return after.get("wasted", 0.0) - before.get("wasted", 0.0)
