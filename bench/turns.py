"""Streamed turns against today's whole-reply route, in one run (embedded models: local
faster-whisper, SmolLM2, the Piper voice via the model server; one worker process).

For typed and spoken (jfk.flac, 11 s of speech) turns, sequential and at concurrency 4,
the same turns go through `Accept: text/event-stream` (time to the first `audio.delta`,
whole turn) and through the JSON route (the baseline: its first byte is the whole turn),
interleaved turn by turn so that both meet the same load.
Targets: typed first audio p50 <= 400 ms; spoken first audio p50 <= 0.5 x the JSON
route's whole turn; first audio <= 0.3 x the streamed turn's own total on replies of
three or more sentences (p50 of the per-turn ratio)."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.chat import QUESTIONS
from bench.embedded import embedded_worker
from bench.report import percentile, print_table, write_result
from harness.processes import DATA
from shared.text import split_sentences

TURNS = 20  # per kind and mode, sequential
#: typed questions that ask for a longer reply (the 3+ sentence target)
LONG_QUESTIONS = [
    f"Tell me three short facts about {topic}, one sentence each."
    for topic in ("the moon", "bees", "the sea", "trees", "rain", "the sun", "cats", "bread")
]
CONCURRENT = 4  # clients at once, TURNS // CONCURRENT turns each, streamed and JSON
JFK = (DATA / "jfk.flac").read_bytes()
SSE = {"accept": "text/event-stream"}


@dataclass
class Turn:
    first_audio: float  # seconds, client side (the whole turn for the JSON route)
    total: float
    sentences: int
    server: dict[str, float] = field(default_factory=dict)


async def streamed(client: httpx.AsyncClient, path: str, **body: Any) -> Turn:
    start = time.perf_counter()
    first = 0.0
    done: dict[str, Any] = {}
    async with client.stream("POST", path, headers=SSE, **body) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if not line.startswith("data: "):
                continue
            event = json.loads(line[6:])
            if event["type"] == "audio.delta" and not first and base64.b64decode(event["audio"]):
                first = time.perf_counter() - start
            elif event["type"] == "done":
                done = event
            elif event["type"] == "error":
                raise RuntimeError(event["error"]["message"])
    total = time.perf_counter() - start
    return Turn(first, total, len(split_sentences(done["reply_text"])), done["timings"])


async def whole(client: httpx.AsyncClient, path: str, **body: Any) -> Turn:
    start = time.perf_counter()
    response = await client.post(path, **body)
    response.raise_for_status()
    total = time.perf_counter() - start
    data = response.json()
    return Turn(total, total, len(split_sentences(data["reply_text"])), data["timings"])


async def run_turns(
    client: httpx.AsyncClient, spoken: bool, turns: int, offset: int, long: bool = False
) -> tuple[list[Turn], list[Turn]]:
    """The same turns, one after the other, streamed in one session and through the
    JSON route in another (so both meet the same load: these machines are noisy)."""
    sessions = [(await client.post("/api/voice/sessions", json={})).json()["id"] for _ in "ab"]
    out: tuple[list[Turn], list[Turn]] = ([], [])
    for i in range(turns):
        for session, call, results in zip(sessions, (streamed, whole), out, strict=True):
            if spoken:
                body: dict[str, Any] = {"files": {"audio": ("jfk.flac", JFK, "audio/flac")}}
                path = f"/api/voice/sessions/{session}/messages"
            else:
                questions = LONG_QUESTIONS if long else QUESTIONS
                question = questions[(offset + i) % len(questions)]
                body = {"json": {"text": question}}
                path = f"/api/voice/sessions/{session}/text"
            results.append(await call(client, path, **body))
    return out


async def measure(
    url: str, spoken: bool, concurrency: int, long: bool = False
) -> tuple[list[Turn], list[Turn]]:
    async with httpx.AsyncClient(base_url=url, timeout=180) as client:
        each = TURNS if concurrency == 1 else max(2, TURNS // concurrency)
        groups = await asyncio.gather(
            *(run_turns(client, spoken, each, k * each, long) for k in range(concurrency))
        )
    return (
        [turn for group in groups for turn in group[0]],
        [turn for group in groups for turn in group[1]],
    )


def ms(values: list[float], q: float) -> float:
    return percentile(values, q) * 1000


STAGES = ("stt", "chat_first_token", "chat", "tts_first_audio")


def row(label: str, turns: list[Turn]) -> dict[str, Any]:
    server = {k: [t.server[k] for t in turns if k in t.server] for k in STAGES}
    out: dict[str, Any] = {
        "turns": label,
        "n": len(turns),
        "first_audio_p50_ms": ms([t.first_audio for t in turns], 50),
        "first_audio_p95_ms": ms([t.first_audio for t in turns], 95),
        "total_p50_ms": ms([t.total for t in turns], 50),
        "total_p95_ms": ms([t.total for t in turns], 95),
    }
    for stage in STAGES:
        out[f"{stage}_p50_ms"] = ms(server[stage], 50) if server[stage] else None
    out["sentences_p50"] = percentile([float(t.sentences) for t in turns], 50)
    return out


def main() -> None:
    results: dict[str, list[Turn]] = {}
    with embedded_worker() as url:
        asyncio.run(measure(url, False, 1))  # warm-up: models, caches
        for kind, spoken in (("typed", False), ("spoken", True)):
            for concurrency in (1, CONCURRENT):
                label = f"{kind} c={concurrency}"
                print(f"  {label} ...", flush=True)
                pair = asyncio.run(measure(url, spoken, concurrency))
                results[f"{label} streamed"], results[f"{label} json"] = pair
        print("  long typed c=1 ...", flush=True)
        pair = asyncio.run(measure(url, False, 1, long=True))
        results["long typed c=1 streamed"], results["long typed c=1 json"] = pair
    rows = [row(label, turns) for label, turns in results.items()]
    print_table("turns: streamed (SSE) vs the whole-reply JSON route", rows)
    targets = check_targets(results)
    print_table("targets", targets)
    write_result("turns", {"rows": rows, "targets": targets})


def check_targets(results: dict[str, list[Turn]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for c in (1, CONCURRENT):
        typed = ms([t.first_audio for t in results[f"typed c={c} streamed"]], 50)
        out.append(
            {"target": f"typed c={c}: first audio p50 <= 400 ms", "value_ms": typed}
            | {"met": typed <= 400}
        )
        spoken = ms([t.first_audio for t in results[f"spoken c={c} streamed"]], 50)
        baseline = ms([t.total for t in results[f"spoken c={c} json"]], 50)
        target = f"spoken c={c}: first audio p50 <= 0.5 x JSON whole turn ({baseline:.0f} ms)"
        ratio = spoken / baseline
        out.append({"target": target, "value_ms": spoken, "ratio": ratio, "met": ratio <= 0.5})
        kinds = ("typed", "spoken", "long typed") if c == 1 else ("typed", "spoken")
        shares = [
            t.first_audio / t.total
            for kind in kinds
            for t in results[f"{kind} c={c} streamed"]
            if t.sentences >= 3
        ]
        share = percentile(shares, 50) if shares else float("nan")
        target = f"c={c}: first audio <= 0.3 x own total, replies of 3+ sentences (n={len(shares)})"
        out.append({"target": target, "ratio": share, "met": share <= 0.3})
    return out


if __name__ == "__main__":
    main()
