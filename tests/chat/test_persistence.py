"""Sessions outlive the worker process; an upstream failure mid-turn over HTTP is a clear
5xx (or 4xx) naming the culprit, with no half turn stored; the response cache on Redis."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
import pytest
import redis

from harness.fake_venice import FakeVenice, venice_env
from harness.processes import Process, free_port
from harness.servers import worker_process
from shared.cache.redis_cache import RedisCache
from voice_worker.catalog.model_mirror import ModelMirror
from voice_worker.chat.base import ChatReply
from voice_worker.chat.cache import ResponseCache
from voice_worker.store.base import TTSModelRecord
from voice_worker.store.sql import SqlStore
from voice_worker.tts.model_server import ModelServerTTS

pytestmark = pytest.mark.slow


def test_restart_keeps_history_and_failures_leave_no_half_turn(
    tmp_path: Path,
    model_server: Process,
    fake_venice: tuple[FakeVenice, str],
    database_url: str,
) -> None:
    """On SQLite and on PostgreSQL (the URL the worker is given)."""
    fake, venice_url = fake_venice
    fake.scenario = "plain"
    env = {
        "VOICE_DATABASE__URL": database_url,
        **venice_env(venice_url),
        "VOICE_CHAT__MAX_RETRIES": "0",
        "VOICE_RESPONSE_CACHE__ENABLED": "false",
    }
    with worker_process(tmp_path, model_server.address, env) as worker:
        base = f"http://{worker.address}/api/voice/sessions"
        sid = httpx.post(base, json={"settings": {"audio_format": "opus"}}).json()["id"]
        ok = httpx.post(f"{base}/{sid}/text", json={"text": "hello"}, timeout=60)
        assert ok.status_code == 200 and ok.json()["reply_text"] == "Hello from Venice."
        fake.scenario = "503"
        busy = httpx.post(f"{base}/{sid}/text", json={"text": "again"}, timeout=60)
        assert busy.status_code == 503
        assert "venice" in busy.json()["error"]["message"]
        fake.scenario = "plain"
        # a model the model server does not offer is refused when it is set
        bad_model = httpx.patch(f"{base}/{sid}", json={"settings": {"tts_model": "no-such-model"}})
        assert bad_model.status_code == 400, bad_model.text
        assert bad_model.json()["error"]["param"] == "tts_model"
        assert "no-such-model" in bad_model.json()["error"]["message"]
    with worker_process(tmp_path, model_server.address, env) as worker:  # a new process
        base = f"http://{worker.address}/api/voice/sessions"
        session = httpx.get(f"{base}/{sid}")
        assert session.status_code == 200
        assert session.json()["settings"]["tts_model"] == ""  # the refused change is not kept
        history = httpx.get(f"{base}/{sid}/messages").json()["items"]
        assert [(m["role"], m["text"]) for m in history] == [
            ("user", "hello"),
            ("assistant", "Hello from Venice."),
        ]
        assert history[1]["audio_format"] == "opus"


def test_model_server_down_is_a_503_and_no_half_turn(
    tmp_path: Path, fake_venice: tuple[FakeVenice, str]
) -> None:
    fake, venice_url = fake_venice
    fake.scenario = "plain"
    env = {
        "VOICE_DATA_DIR": str(tmp_path),
        **venice_env(venice_url),
        "VOICE_TTS__MAX_RETRIES": "0",
        "VOICE_TTS__TIMEOUT_SECONDS": "2",
    }
    nowhere = f"127.0.0.1:{free_port()}"
    with worker_process(tmp_path, nowhere, env) as worker:
        base = f"http://{worker.address}/api/voice/sessions"
        sid = httpx.post(base, json={}).json()["id"]
        reply = httpx.post(f"{base}/{sid}/text", json={"text": "hello"}, timeout=30)
        assert reply.status_code in (503, 504), reply.text
        assert "model server" in reply.json()["error"]["message"]
        assert httpx.get(f"{base}/{sid}/messages").json()["items"] == []


async def test_tts_models_synced_from_the_model_server(
    store: SqlStore, model_server: Process
) -> None:
    await store.replace_tts_models([TTSModelRecord("gone-model", "piper", 1, False, "loaded")])
    provider = ModelServerTTS(model_server.address)
    try:
        count = await ModelMirror(store, provider, 60).sync()
    finally:
        await provider.close()
    models = {m.name: m for m in await store.list_tts_models()}
    assert count == len(models) >= 1
    assert "gone-model" not in models  # no longer on the server: no longer in the table
    assert models["piper-joe"].backend == "piper" and models["piper-joe"].is_default
    assert models["piper-joe"].sample_rate == 22050
    assert models["piper-joe"].state == "loaded"  # preloaded


async def test_tts_models_kept_in_step(store: SqlStore, model_server: Process) -> None:
    provider = ModelServerTTS(model_server.address)
    task = asyncio.create_task(ModelMirror(store, provider, 0.05).run())
    try:
        await store.replace_tts_models([])
        for _ in range(100):  # the next sync fills the table again
            await asyncio.sleep(0.05)
            if await store.list_tts_models():
                break
        assert "piper-joe" in {m.name for m in await store.list_tts_models()}
    finally:
        task.cancel()
        await provider.close()


async def test_response_cache_on_redis() -> None:
    prefix = f"test-chat-{uuid.uuid4().hex[:8]}:"
    backend = RedisCache("redis://127.0.0.1:6379/12", prefix)
    if not await backend.ping():
        pytest.skip("no Redis on 127.0.0.1:6379")
    cache = ResponseCache(backend, ttl_seconds=60)
    try:
        assert await cache.get("s1", "q", "default") is None
        await cache.set("s1", "q", "default", ChatReply("A.", "t", "m"))
        assert await cache.get("s1", "q", "default") == ChatReply("A.", "t", "m")
        assert await cache.get("s1", "q", "analyst") is None
        ttl = redis.Redis(db=12).pttl(prefix + ResponseCache.key("s1", "q", "default"))
        assert 0 < ttl <= 60_000
    finally:
        client = redis.Redis(db=12)
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
        await backend.close()
