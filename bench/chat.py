"""Voice chat benchmark: per-stage latency of `process_text_only` (local SmolLM2 chat,
the Piper voice through the model server, SQLite store; p50 and p95 over 20 turns of
one conversation), and a cached chat reply for a single client: in-process (target p50
<= 1 ms) and a whole turn over HTTP with both caches hit (target p50 <= 5 ms)."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.report import percentile, print_table, write_result
from harness.processes import model_server_process
from harness.servers import worker_process
from shared.cache.memory import MemoryCache
from voice_worker.auth.principal import ANONYMOUS
from voice_worker.chat.base import ChatReply
from voice_worker.chat.cache import ResponseCache
from voice_worker.chat.local import LocalChat
from voice_worker.chat.settings import ChatSettings
from voice_worker.conversation.adapters import TurnSpeech
from voice_worker.conversation.engine import VoiceChatEngine
from voice_worker.speech.cached_speech import CachedSpeech
from voice_worker.store.base import SessionSettings
from voice_worker.store.sql import open_store
from voice_worker.tts.model_server import ModelServerTTS

TURNS = 20
QUESTIONS = [
    "What is the capital of France?", "Name a fruit that is yellow.", "How many legs has a cat?",
    "What colour is the sky?", "Say something about the sea.", "What is two plus two?",
    "Which season comes after winter?", "What do bees make?", "Name a large animal.",
    "What is water made of?", "Why do we sleep?", "What is a library for?",
    "Name a musical instrument.", "What does a baker do?", "How hot is the sun?",
    "What is the moon?", "Name a green vegetable.", "What do plants need?",
    "How do birds fly?", "What is your favourite word?",
]  # fmt: skip
CACHED_HTTP_REQUESTS = 100


def stats(label: str, values: list[float], unit: float = 1000.0) -> dict[str, Any]:
    return {
        "measure": label,
        "n": len(values),
        "p50_ms": percentile(values, 50) * unit,
        "p95_ms": percentile(values, 95) * unit,
    }


async def text_turns(model_server: str, directory: Path) -> list[dict[str, Any]]:
    store = await open_store(f"sqlite:///{directory}/bench.db")
    chat, tts = LocalChat(), ModelServerTTS(model_server)
    settings = ChatSettings(max_tokens=60)
    engine = VoiceChatEngine(store, chat, TurnSpeech(CachedSpeech(tts, MemoryCache())), settings)
    session = await store.create_session(SessionSettings())
    await engine.process_text_only(
        session.id, "Hello!", ANONYMOUS
    )  # warm-up: model load, first call
    stages = ("chat_first_token", "chat", "first_audio", "store", "total")
    timings: dict[str, list[float]] = {stage: [] for stage in stages}
    words = 0
    for question in QUESTIONS[:TURNS]:
        turn = await engine.process_text_only(session.id, question, ANONYMOUS)
        words += len(turn.reply_text.split())
        for stage in timings:
            timings[stage].append(turn.timings[stage])
    await tts.close()
    await chat.close()
    await store.close()
    rows = [stats(f"process_text_only: {stage}", values) for stage, values in timings.items()]
    rows[0]["note"] = f"{words / TURNS:.0f} words a reply, history on"
    return rows


async def cached_in_process(directory: Path) -> list[dict[str, Any]]:
    cache = ResponseCache(MemoryCache(5000), ttl_seconds=1800)
    await cache.set("session", "What is the capital of France?", "default", ChatReply("Paris."))
    times = []
    for _ in range(1000):
        start = time.perf_counter()
        hit = await cache.get("session", "What is the capital of France?", "default")
        times.append(time.perf_counter() - start)
        assert hit is not None
    return [stats("cached chat reply, in-process (ResponseCache.get)", times)]


def cached_over_http(model_server: str, directory: Path) -> list[dict[str, Any]]:
    env = {"VOICE_DATA_DIR": str(directory), "VOICE_CHAT__PROVIDER": "local"}
    with (
        worker_process(directory, model_server, env) as worker,
        httpx.Client(base_url=f"http://{worker.address}", timeout=60) as client,
    ):
        sid = client.post("/api/voice/sessions", json={}).json()["id"]
        body = {"text": "What is the capital of France?"}
        first = client.post(f"/api/voice/sessions/{sid}/text", json=body).json()
        chat_stage, store_stage, server_total, round_trip = [], [], [], []
        for _ in range(CACHED_HTTP_REQUESTS):
            start = time.perf_counter()
            reply = client.post(f"/api/voice/sessions/{sid}/text", json=body)
            round_trip.append(time.perf_counter() - start)
            data = reply.json()
            assert data["cached"] and data["reply_text"] == first["reply_text"]
            chat_stage.append(data["timings"]["chat"])
            store_stage.append(data["timings"]["store"])
            server_total.append(data["timings"]["total"])
    return [
        stats("cached turn over HTTP: chat stage (server)", chat_stage),
        stats("cached turn over HTTP: store stage (server)", store_stage),
        stats("cached turn over HTTP: engine total (server)", server_total),
        stats("cached turn over HTTP: whole request (client)", round_trip),
    ]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        with model_server_process(directory) as server:
            rows = asyncio.run(text_turns(server.address, directory))
            rows += asyncio.run(cached_in_process(directory))
            (directory / "http").mkdir()
            rows += cached_over_http(server.address, directory / "http")
    print_table("voice chat (local SmolLM2 + Piper via the model server, SQLite)", rows)
    write_result("chat", {"rows": rows, "turns": TURNS, "http_requests": CACHED_HTTP_REQUESTS})


if __name__ == "__main__":
    main()
