"""Voice to voice over the realtime protocol (`/v1/realtime`), as Pipecat and LiveKit
measure it: from the real end of speech in the input audio to the first
`response.output_audio.delta`, the audio sent as a microphone sends it (20 ms pcm16
frames, paced at wall-clock rate). Embedded models (local faster-whisper, SmolLM2, the
Piper voice via the model server), one worker process, one connection per series.

The speech is the worker's own voice saying bench.chat's twenty questions (24 kHz pcm
from /v1/audio/speech), so the real end of each utterance is known from its samples
(the last 10 ms window at 5% of the loudest). A frame is sent when its 20 ms have been
"captured"; sample k of an utterance was captured at (its first frame's send time -
20 ms + k / 24000).

Series: server VAD with a 500 ms and a 300 ms silence window (end of speech -> first
audio, and the stages: VAD end, transcript, first reply token, first audio); push to
talk, the button let go 300 ms after the real end of speech and at once (commit ->
first audio); barge-in, by `response.cancel` (cancel -> last audio delta, -> response.done)
and by speech over the reply (speech_started -> last audio delta), each over a long
reply (a typed request for a story) 200 ms after its first audio. The worker's own
stage timings (the stored reply's `timings`) are read from the sessions API.
Targets: push to talk commit -> first audio p50 <= 500 ms; server VAD (300 ms) end of
speech -> first audio p50 <= 800 ms; barge-in stop p50 <= 100 ms."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
from websockets.asyncio.client import ClientConnection, connect

from bench.chat import QUESTIONS
from bench.embedded import embedded_worker
from bench.report import percentile, print_table, write_result

RATE = 24_000
FRAME_BYTES = RATE * 2 // 50  # 20 ms
FRAME_SECONDS = 0.02
TURNS = int(os.environ.get("BENCH_REALTIME_TURNS", "20"))  # per series
Event = dict[str, Any]
LATE_CANCEL = {"response_cancel_not_active"}  # a cancel that came after the reply ended


@dataclass(frozen=True)
class Utterance:
    text: str
    pcm: bytes
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


class Connection:
    """A realtime connection: a microphone that sends 20 ms frames on the wall clock
    (silence unless it is saying something; nothing at all in push-to-talk), and every
    server event with the time it arrived."""

    def __init__(self, ws: ClientConnection, always_on: bool) -> None:
        self.ws = ws
        self.always_on = always_on
        self.events: list[tuple[float, Event]] = []
        self.arrived = asyncio.Event()
        self.speech = bytearray()
        self.sent_bytes = 0  # audio sent so far (the server's input clock)
        self.on_start: list[Callable[[float, int], None]] = []  # first frame of an utterance
        self.after: list[Callable[[], Any]] = []  # once the queued speech is sent
        self.tasks = [asyncio.create_task(self._read()), asyncio.create_task(self._mic())]

    async def _read(self) -> None:
        async for message in self.ws:
            self.events.append((time.perf_counter(), json.loads(message)))
            self.arrived.set()

    async def _mic(self) -> None:
        start, tick = time.perf_counter(), 0
        while True:
            tick += 1
            await asyncio.sleep(max(0.0, start + tick * FRAME_SECONDS - time.perf_counter()))
            if self.speech:
                frame = bytes(self.speech[:FRAME_BYTES])
                del self.speech[:FRAME_BYTES]
            elif self.always_on:
                frame = b"\0" * FRAME_BYTES
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
        self, utterance: Utterance, then: Callable[[], Any] | None = None
    ) -> asyncio.Future[tuple[float, float]]:
        """Queue `utterance`; resolves to (wall time of its real end of speech, the
        server's input time of it in seconds)."""
        loop = asyncio.get_running_loop()
        ended: asyncio.Future[tuple[float, float]] = loop.create_future()

        def started(captured: float, offset: int) -> None:
            ended.set_result((captured + utterance.end, offset / (RATE * 2) + utterance.end))

        self.on_start.append(started)
        self.speech += utterance.pcm
        if then is not None:
            self.after.append(then)
        return ended

    async def next(
        self, kind: str | tuple[str, ...], after: int, timeout: float = 60
    ) -> tuple[int, float, Event]:
        """The first event of `kind` at index >= `after`: (index, arrival, event)."""
        kinds = (kind,) if isinstance(kind, str) else kind
        deadline = time.perf_counter() + timeout
        i = after
        while True:
            while i < len(self.events):
                at, event = self.events[i]
                if event["type"] in kinds:
                    return i, at, event
                if event["type"] == "error" and event["error"]["code"] not in LATE_CANCEL:
                    raise RuntimeError(event["error"]["message"])
                i += 1
            self.arrived.clear()
            left = deadline - time.perf_counter()
            if left <= 0:
                raise TimeoutError(f"no {kinds} in {timeout} s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), left)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.ws.close()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass
class Sample:
    values: dict[str, float] = field(default_factory=dict)  # seconds
    server: dict[str, float] = field(default_factory=dict)


async def open_connection(ws_url: str, vad: dict[str, Any] | None) -> tuple[Connection, str]:
    ws = await connect(ws_url + "?model=bench", max_size=None, compression=None)
    connection = Connection(ws, always_on=vad is not None)
    _, _, created = await connection.next("session.created", 0)
    session = {"type": "realtime", "audio": {"input": {"turn_detection": vad}}}
    await connection.send({"type": "session.update", "session": session})
    await connection.next("session.updated", 0)
    return connection, created["session"]["id"]


async def server_timings(url: str, session_id: str) -> dict[str, float]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        page = (await client.get(f"/api/voice/sessions/{session_id}/messages?limit=200")).json()
    replies = [m for m in page["items"] if m["role"] == "assistant"]
    return dict(replies[-1]["timings"]) if replies else {}


async def vad_series(url: str, ws_url: str, speech: list[Utterance], window: int) -> list[Sample]:
    vad = {"type": "server_vad", "silence_duration_ms": window}
    connection, session_id = await open_connection(ws_url, vad)
    samples = []
    try:
        for n in range(TURNS):
            utterance = speech[n % len(speech)]
            mark = len(connection.events)
            end, end_input = await connection.say(utterance)
            i, stopped_at, stopped = await connection.next(
                "input_audio_buffer.speech_stopped", mark
            )
            _, heard_at, _ = await connection.next(
                "conversation.item.input_audio_transcription.completed", i
            )
            _, token_at, _ = await connection.next("response.output_audio_transcript.delta", i)
            _, audio_at, _ = await connection.next("response.output_audio.delta", i)
            _, _, done = await connection.next("response.done", i)
            detected = stopped["audio_end_ms"] / 1000 - window / 1000  # where the VAD put the end
            samples.append(
                Sample(
                    {
                        "end_to_first_audio": audio_at - end,
                        "vad_event": stopped_at - end,
                        "vad_end_error": detected - end_input,
                        "transcript": heard_at - stopped_at,
                        "first_token": token_at - stopped_at,
                        "first_audio_after_vad": audio_at - stopped_at,
                    },
                    await server_timings(url, session_id),
                )
            )
            assert done["response"]["status"] == "completed", done
            await asyncio.sleep(0.3)
    finally:
        await connection.close()
    return samples


async def push_to_talk_series(
    url: str, ws_url: str, speech: list[Utterance], release: float
) -> list[Sample]:
    connection, session_id = await open_connection(ws_url, None)
    samples = []
    try:
        for n in range(TURNS):
            utterance = speech[n % len(speech)]
            mark = len(connection.events)
            committed: asyncio.Future[float] = asyncio.get_running_loop().create_future()

            async def let_go(committed: asyncio.Future[float] = committed) -> None:
                committed.set_result(time.perf_counter())
                await connection.send({"type": "input_audio_buffer.commit"})
                await connection.send({"type": "response.create"})

            # the voice's own trailing silence cut off: let go `release` after the real end
            said = utterance.pcm[: int(utterance.end * RATE) * 2]
            tail = b"\0" * (int(release * RATE) * 2)
            padded = Utterance(utterance.text, said + tail, utterance.end)
            end, _ = await connection.say(padded, then=let_go)
            commit = await committed
            _, heard_at, _ = await connection.next(
                "conversation.item.input_audio_transcription.completed", mark
            )
            _, token_at, _ = await connection.next("response.output_audio_transcript.delta", mark)
            _, audio_at, _ = await connection.next("response.output_audio.delta", mark)
            await connection.next("response.done", mark)
            samples.append(
                Sample(
                    {
                        "commit_to_first_audio": audio_at - commit,
                        "end_to_first_audio": audio_at - end,
                        "transcript": heard_at - commit,
                        "first_token": token_at - commit,
                    },
                    await server_timings(url, session_id),
                )
            )
            await asyncio.sleep(0.3)
    finally:
        await connection.close()
    return samples


STORIES = [
    "a dragon", "the sea", "a robot", "a lost key", "the moon", "a baker", "a storm",
    "a library", "a cat", "a mountain", "a train", "a garden", "a clock", "a river",
    "a painter", "a lighthouse", "a forest", "a violin", "a snowman", "a ship",
]  # fmt: skip


async def ask_for_a_story(connection: Connection, n: int) -> None:
    """A typed turn with a long reply: it is still being written when interrupted."""
    text = f"Tell me a long story about {STORIES[n % len(STORIES)]}, with many details."
    content = [{"type": "input_text", "text": text}]
    item = {"type": "message", "role": "user", "content": content}
    await connection.send({"type": "conversation.item.create", "item": item})
    await connection.send({"type": "response.create"})


def last_audio(connection: Connection, first: int, done: int) -> float:
    kind = "response.output_audio.delta"
    return max(at for at, e in connection.events[first:done] if e["type"] == kind)


async def cancel_once(ws_url: str, n: int) -> Sample | None:
    """A long reply; 200 ms after its first audio delta, response.cancel (None: it
    had ended before the cancel came)."""
    connection, _ = await open_connection(ws_url, None)
    try:
        await ask_for_a_story(connection, n)
        first, _, _ = await connection.next("response.output_audio.delta", 0)
        await asyncio.sleep(0.2)
        cancel_at = time.perf_counter()
        await connection.send({"type": "response.cancel"})
        done_i, done_at, done = await connection.next("response.done", first)
    finally:
        await connection.close()
    if done["response"]["status"] != "cancelled":
        return None
    last = max(last_audio(connection, first, done_i) - cancel_at, 0.0)
    return Sample({"cancel_to_last_audio": last, "cancel_to_done": done_at - cancel_at})


async def speech_over_once(ws_url: str, n: int, utterance: Utterance) -> Sample | None:
    """Server VAD (300 ms): a long reply, and 200 ms after its first audio delta the
    user speaks over it (None: it had ended before the user spoke)."""
    vad = {"type": "server_vad", "silence_duration_ms": 300, "create_response": False}
    connection, _ = await open_connection(ws_url, vad)
    try:
        await ask_for_a_story(connection, n)
        first, _, _ = await connection.next("response.output_audio.delta", 0)
        await asyncio.sleep(0.2)
        spoken = len(connection.events)
        await connection.say(utterance)
        started_i, started_at, _ = await connection.next(
            "input_audio_buffer.speech_started", spoken
        )
        done_i, done_at, done = await connection.next("response.done", first)
    finally:
        await connection.close()
    if done["response"]["status"] != "cancelled" or done_i < started_i:
        return None
    last = max(last_audio(connection, first, done_i) - started_at, 0.0)
    return Sample({"speech_to_last_audio": last, "speech_to_done": done_at - started_at})


async def barge_in_series(ws_url: str, speech: list[Utterance], by_speech: bool) -> list[Sample]:
    """A new session each time: a small model's history of cut-off stories makes it
    answer the next request in one line."""
    samples: list[Sample] = []
    for n in range(TURNS * 3):
        if len(samples) == TURNS:
            break
        if by_speech:
            sample = await speech_over_once(ws_url, n, speech[n % len(speech)])
        else:
            sample = await cancel_once(ws_url, n)
        if sample is not None:
            samples.append(sample)
    return samples


STAGES = ("stt", "chat_first_token", "tts_first_audio", "first_audio")


def row(label: str, samples: list[Sample]) -> dict[str, Any]:
    out: dict[str, Any] = {"series": label, "n": len(samples)}
    for key in samples[0].values if samples else ():
        values = [s.values[key] for s in samples]
        out[f"{key}_p50_ms"] = percentile(values, 50) * 1000
        out[f"{key}_p95_ms"] = percentile(values, 95) * 1000
    for stage in STAGES:
        values = [s.server[stage] for s in samples if stage in s.server]
        if values:
            out[f"server_{stage}_p50_ms"] = percentile(values, 50) * 1000
    return out


async def run(url: str) -> dict[str, list[Sample]]:
    ws_url = url.replace("http://", "ws://") + "/v1/realtime"
    speech = await utterances(url)
    await vad_series(url, ws_url, speech[:2], 300)  # warm-up: models loaded, caches
    results: dict[str, list[Sample]] = {}
    for window in (500, 300):
        print(f"  server VAD {window} ms ...", flush=True)
        results[f"server VAD {window} ms"] = await vad_series(url, ws_url, speech, window)
    for release in (0.3, 0.0):
        label = f"push to talk, let go {release * 1000:.0f} ms after the end of speech"
        print(f"  {label} ...", flush=True)
        results[label] = await push_to_talk_series(url, ws_url, speech, release)
    print("  barge-in ...", flush=True)
    results["barge-in: response.cancel"] = await barge_in_series(ws_url, speech, False)
    results["barge-in: speech over the reply"] = await barge_in_series(ws_url, speech, True)
    return results


def p50_ms(samples: list[Sample], key: str) -> float:
    return percentile([s.values[key] for s in samples], 50) * 1000


def targets(results: dict[str, list[Sample]]) -> list[dict[str, Any]]:
    ptt = p50_ms(
        results["push to talk, let go 300 ms after the end of speech"], "commit_to_first_audio"
    )
    ptt_now = p50_ms(
        results["push to talk, let go 0 ms after the end of speech"], "commit_to_first_audio"
    )
    vad = p50_ms(results["server VAD 300 ms"], "end_to_first_audio")
    cancel = p50_ms(results["barge-in: response.cancel"], "cancel_to_last_audio")
    speech = p50_ms(results["barge-in: speech over the reply"], "speech_to_last_audio")
    checks = [
        ("push to talk (let go 300 ms after): commit -> first audio p50 <= 500 ms", ptt, 500),
        ("push to talk (let go at once): commit -> first audio p50 <= 500 ms", ptt_now, 500),
        ("server VAD 300 ms: end of speech -> first audio p50 <= 800 ms", vad, 800),
        ("barge-in (response.cancel): -> last audio delta p50 <= 100 ms", cancel, 100),
        ("barge-in (speech): speech_started -> last audio delta p50 <= 100 ms", speech, 100),
    ]
    return [{"target": t, "value_ms": v, "met": v <= limit} for t, v, limit in checks]


def main() -> None:
    with embedded_worker() as url:
        results = asyncio.run(run(url))
    rows = [row(label, samples) for label, samples in results.items()]
    for r in rows:
        print_table(f"realtime: {r['series']}", [{k: v for k, v in r.items() if k != "series"}])
    checked = targets(results)
    print_table("targets", checked)
    write_result("realtime", {"rows": rows, "targets": checked})


if __name__ == "__main__":
    main()
