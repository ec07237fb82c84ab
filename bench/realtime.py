"""Voice to voice over the realtime protocol (`/v1/realtime`), as Pipecat and LiveKit
measure it, with speech that behaves like people (harness/people.py: espeak-ng voices
with mid-sentence pauses, and the jfk recording; clean and at 10 dB SNR): from the end
of speech to the first `response.output_audio.delta`, the audio sent as a microphone
sends it (20 ms pcm16 frames on the wall clock; the room, silence or the noise, goes on
after each thought). Embedded models (local faster-whisper, SmolLM2, the Piper voice via
the model server), one worker process, one connection per series and noise.

Series (bench/realtime_people.py): server_vad with a 500 ms and a 300 ms window,
semantic_vad with eagerness auto and high, push to talk (let go 300 ms after the last
word); per series and noise: responses started before the end of speech, talk-over
(response audio received while the person spoke), end of speech to first audio p50/p95,
user messages stored per thought, responses cancelled with turn_detected, wasted
speculative tokens (the worker's `voice_speculative*` counters, n/a without them) and the
stage breakdown (the client's and the worker's own). Barge-in, by `response.cancel`
(cancel -> last audio delta, -> response.done) and by speech over the reply
(speech_started -> last audio delta), each over a long reply (a typed request for a
story) 200 ms after its first audio.
Targets: semantic_vad no talk-over, end of speech -> first audio p50 <= 600 ms and p95
<= 1 s; server_vad 500 ms p50 <= 1 s; barge-in stop p50 <= 100 ms.
BENCH_REALTIME_THOUGHTS (3) thoughts per series and noise, BENCH_REALTIME_BARGE_INS (5)
of each barge-in."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from typing import Any

from bench import realtime_people as people
from bench.embedded import embedded_worker
from bench.realtime_client import Connection, open_connection
from bench.report import percentile, print_table, write_result
from harness.people import Spoken, corpus

BARGE_INS = int(os.environ.get("BENCH_REALTIME_BARGE_INS", "5"))  # of each kind


@dataclass
class Sample:
    values: dict[str, float] = field(default_factory=dict)  # seconds


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


async def speech_over_once(ws_url: str, n: int, spoken: Spoken) -> Sample | None:
    """Server VAD (300 ms): a long reply, and 200 ms after its first audio delta the
    user speaks over it (None: it had ended before the user spoke)."""
    vad = {"type": "server_vad", "silence_duration_ms": 300, "create_response": False}
    connection, _ = await open_connection(ws_url, vad)
    try:
        await ask_for_a_story(connection, n)
        first, _, _ = await connection.next("response.output_audio.delta", 0)
        await asyncio.sleep(0.2)
        mark = len(connection.events)
        await connection.say(spoken)
        started_i, started_at, _ = await connection.next("input_audio_buffer.speech_started", mark)
        done_i, done_at, done = await connection.next("response.done", first)
    finally:
        await connection.close()
    if done["response"]["status"] != "cancelled" or done_i < started_i:
        return None
    last = max(last_audio(connection, first, done_i) - started_at, 0.0)
    return Sample({"speech_to_last_audio": last, "speech_to_done": done_at - started_at})


async def barge_in_series(ws_url: str, speech: list[Spoken], by_speech: bool) -> list[Sample]:
    """A new session each time: a small model's history of cut-off stories makes it
    answer the next request in one line."""
    samples: list[Sample] = []
    for n in range(BARGE_INS * 3):
        if len(samples) == BARGE_INS:
            break
        if by_speech:
            sample = await speech_over_once(ws_url, n, speech[n % len(speech)])
        else:
            sample = await cancel_once(ws_url, n)
        if sample is not None:
            samples.append(sample)
    return samples


def row(label: str, samples: list[Sample]) -> dict[str, Any]:
    out: dict[str, Any] = {"series": label, "n": len(samples)}
    for key in samples[0].values if samples else ():
        values = [s.values[key] for s in samples]
        out[f"{key}_p50_ms"] = percentile(values, 50) * 1000
        out[f"{key}_p95_ms"] = percentile(values, 95) * 1000
    return out


@dataclass
class Results:
    conversations: list[people.Result]
    barge_ins: dict[str, list[Sample]]


async def run(url: str) -> Results:
    ws_url = url.replace("http://", "ws://") + "/v1/realtime"
    thoughts = corpus()
    by_noise = {
        "clean": [t for t in thoughts if t.snr_db is None],
        "10 dB": [t for t in thoughts if t.snr_db == 10.0],
    }
    warm = people.SERIES[0]
    await people.run_series(url, ws_url, warm, "clean", by_noise["clean"][-1:])  # models loaded
    conversations = []
    for n, series in enumerate(people.SERIES):
        for noise, entries in by_noise.items():
            print(f"  {series.label}, {noise} ...", flush=True)
            chosen = people.pick(entries, people.THOUGHTS, n * people.THOUGHTS)
            conversations.append(await people.run_series(url, ws_url, series, noise, chosen))
    print("  barge-in ...", flush=True)
    speech = [t.spoken for t in by_noise["clean"]]
    barge_ins = {
        "barge-in: response.cancel": await barge_in_series(ws_url, speech, False),
        "barge-in: speech over the reply": await barge_in_series(ws_url, speech, True),
    }
    return Results(conversations, barge_ins)


def p50_ms(samples: list[Sample], key: str) -> float:
    return percentile([s.values[key] for s in samples], 50) * 1000


def targets(results: Results) -> list[dict[str, Any]]:
    checks = people.targets(results.conversations)
    cancel = p50_ms(results.barge_ins["barge-in: response.cancel"], "cancel_to_last_audio")
    speech = p50_ms(results.barge_ins["barge-in: speech over the reply"], "speech_to_last_audio")
    for target, value in (
        ("barge-in (response.cancel): -> last audio delta p50 <= 100 ms", cancel),
        ("barge-in (speech): speech_started -> last audio delta p50 <= 100 ms", speech),
    ):
        checks.append({"target": target, "value": value, "met": value <= 100})
    return checks


def main() -> None:
    started, load_before = time.perf_counter(), os.getloadavg()
    with embedded_worker() as url:
        results = asyncio.run(run(url))
    load = {"before": load_before, "after": os.getloadavg()}  # 1, 5, 15 min: others' work
    rows = [people.row(r) for r in results.conversations]
    turns, stages = people.tables(rows)
    print_table("realtime, people: turn-taking, end of speech -> first audio (ms)", turns)
    print_table("realtime, people: stages, p50 ms (client: from the end of speech)", stages)
    barge = [row(label, samples) for label, samples in results.barge_ins.items()]
    for r in barge:
        print_table(f"realtime: {r['series']}", [{k: v for k, v in r.items() if k != "series"}])
    checked = targets(results)
    print_table("targets", checked)
    seconds = time.perf_counter() - started
    print(f"\nrealtime bench: {seconds:.0f} s; load average {load}", flush=True)
    thoughts = {
        f"{r.series.label}, {r.noise}": people.thoughts_json(r) for r in results.conversations
    }
    write_result(
        "realtime",
        {
            "rows": rows,
            "barge_in": barge,
            "targets": checked,
            "thoughts": thoughts,
            "seconds": round(seconds, 1),
            "load_average": load,
        },
    )


if __name__ == "__main__":
    main()
