"""The model server killed and restarted under load: while it is down the worker
answers 503 with Retry-After and /readyz says why; once it is back the same worker
process speaks again within seconds, with no restart of its own."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from harness.processes import free_port, model_server_process
from harness.servers import worker_process

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


class Load:
    """Clients asking for speech (new text each time, so the cache never answers)."""

    def __init__(self) -> None:
        self.statuses: Counter[int] = Counter()
        self.missing_retry_after = 0
        self.ok_at: list[float] = []
        self.stopped = False
        self.count = 0

    async def speak(self, client: httpx.AsyncClient, name: int) -> None:
        while not self.stopped:
            self.count += 1
            body = {"text": f"Client {name} says {self.count}.", "format": "wav"}
            reply = await client.post("/api/voice/tts", json=body)
            self.statuses[reply.status_code] += 1
            if reply.status_code == 200:
                self.ok_at.append(time.monotonic())
            elif "retry-after" not in reply.headers:
                self.missing_retry_after += 1
            await asyncio.sleep(0.05)


async def until(check: Callable[[], Awaitable[bool]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


def test_model_server_down_is_503_and_the_worker_recovers(tmp_path: Path) -> None:
    port = free_port()
    env = {"VOICE_STT__PROVIDER": "mock"}
    with (
        model_server_process(tmp_path, port=port) as first,
        worker_process(tmp_path, first.address, env) as worker,
    ):
        asyncio.run(scenario(tmp_path, port, first.popen, worker.address))
        assert worker.popen.poll() is None  # the same process throughout


async def scenario(tmp_path: Path, port: int, first: subprocess.Popen[bytes], worker: str) -> None:
    load = Load()
    async with httpx.AsyncClient(base_url=f"http://{worker}", timeout=60) as client:
        clients = [asyncio.create_task(load.speak(client, n)) for n in range(3)]
        try:
            await until(lambda: _ok(load, 3), 30)
            first.send_signal(signal.SIGKILL)
            first.wait()
            down = time.monotonic()
            await until(lambda: _refused(load, 3), 30)
            ready = await client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["tts"]["ready"] is False
            assert "UNAVAILABLE" in ready.json()["tts"]["detail"]
            with model_server_process(tmp_path, port=port):
                back = time.monotonic()
                await until(lambda: _ok_since(load, back), 20)  # within seconds, no restart
                await until(lambda: _ready(client), 20)
                await asyncio.sleep(1.0)
        finally:
            load.stopped = True
            await asyncio.gather(*clients, return_exceptions=True)
    assert load.statuses[503] >= 3 and down < back
    assert set(load.statuses) <= {200, 503}, load.statuses  # nothing else went wrong
    assert load.missing_retry_after == 0


async def _ok(load: Load, count: int) -> bool:
    return load.statuses[200] >= count


async def _refused(load: Load, count: int) -> bool:
    return load.statuses[503] >= count


async def _ok_since(load: Load, since: float) -> bool:
    return any(t > since for t in load.ok_at)


async def _ready(client: httpx.AsyncClient) -> bool:
    return (await client.get("/readyz")).status_code == 200
