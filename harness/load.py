"""The load run: 200 sessions taking typed turns with cached replies, concurrently,
through two worker processes (PostgreSQL store, Redis cache), for a while; every
status counted (a 503 must say when to retry), latencies kept, and each worker's
resident memory sampled twice a second. `tests/faults/test_load.py` runs it briefly
in the suite; `make bench` (bench/load.py) runs the full minute.

The clients are raw keep-alive HTTP/1.1 connections on asyncio, one per session
(httpx would cost the 2-core machine more than the workers do). Before the measured
run each session takes one turn (its reply is written once by the fake chat model and
spoken once), then every turn is answered from the response and audio caches, and
the store takes its two messages."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from harness.fake_venice import FakeVenice, venice_env
from harness.postgres import PrivatePostgres
from harness.servers import RedisServer, ThreadServer, worker_process

SESSIONS = 200
QUESTION = "What time is it?"
SETTLE_SECONDS = 5.0


@dataclass
class LoadResult:
    seconds: float
    statuses: Counter[int] = field(default_factory=Counter)
    unavailable_without_retry_after: int = 0
    latencies: list[float] = field(default_factory=list)
    memory: dict[int, list[tuple[float, int]]] = field(default_factory=dict)  # pid: samples

    @property
    def turns(self) -> int:
        return self.statuses[200]

    def window_means(self, pid: int, window: float) -> tuple[float, float]:
        """Mean resident memory of worker `pid` over the first and the last `window`
        seconds of the measured run."""
        samples = self.memory[pid]
        start, end = samples[0][0], samples[-1][0]
        first = [rss for t, rss in samples if t <= start + window]
        last = [rss for t, rss in samples if t >= end - window]
        return sum(first) / len(first), sum(last) / len(last)

    def bad_statuses(self) -> dict[int, int]:
        """5xx other than 503, and anything else that is not 200 or 503."""
        return {s: n for s, n in self.statuses.items() if s not in (200, 503)}


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        return cls(*await asyncio.open_connection(host, port))

    async def post(self, path: str, body: bytes, host: str) -> tuple[int, dict[str, str]]:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        await self.reader.readexactly(int(headers.get("content-length", "0")))
        return int(lines[0][9:12]), headers

    def close(self) -> None:
        self.writer.close()


async def _client(
    address: str, session: str, until: float, result: LoadResult, measured_from: float
) -> None:
    host, port = address.split(":")
    connection = await Connection.open(host, int(port))
    path = f"/api/voice/sessions/{session}/text"
    body = json.dumps({"text": QUESTION}).encode()
    try:
        while (now := time.monotonic()) < until:
            status, headers = await connection.post(path, body, address)
            if now >= measured_from:
                result.statuses[status] += 1
                result.latencies.append(time.monotonic() - now)
                if status == 503 and "retry-after" not in headers:
                    result.unavailable_without_retry_after += 1
            if status == 503:
                await asyncio.sleep(float(headers.get("retry-after", "1")))
    finally:
        connection.close()


def _sample_memory(pids: list[int], result: LoadResult, stop: threading.Event) -> None:
    processes = {pid: psutil.Process(pid) for pid in pids}
    while not stop.wait(0.5):
        now = time.monotonic()
        for pid, process in processes.items():
            result.memory.setdefault(pid, []).append((now, process.memory_info().rss))


@contextmanager
def two_workers(model_server: str, tmp_path: Path) -> Iterator[tuple[list[str], list[int]]]:
    """Two workers (PostgreSQL, Redis, the fake chat model) with 200 warm sessions
    between them: (their sessions' addresses, one per session; their pids)."""
    with ExitStack() as stack:
        postgres = PrivatePostgres()
        stack.callback(postgres.close)
        postgres.start()
        redis = RedisServer(_free_port(), tmp_path)
        redis.start()
        stack.callback(redis.stop)
        fake = FakeVenice()
        fake.scenario = "short"
        venice = stack.enter_context(ThreadServer(fake.app))
        env = {
            "VOICE_STT__PROVIDER": "mock",
            **venice_env(f"{venice.url}/api/v1"),
            "VOICE_DATABASE__URL": postgres.url,
            "VOICE_DATABASE__POOL_SIZE": "20",
            "VOICE_CACHE__BACKEND": "redis",
            "VOICE_CACHE__REDIS_URL": redis.url,
            "VOICE_CACHE__KEY_PREFIX": f"load-{uuid.uuid4().hex[:8]}:",
        }
        workers = [
            stack.enter_context(worker_process(tmp_path, model_server, env)) for _ in range(2)
        ]
        addresses = [workers[i % 2].address for i in range(SESSIONS)]
        sessions = asyncio.run(_warm(addresses))
        yield (
            [f"{a}|{s}" for a, s in zip(addresses, sessions, strict=True)],
            [w.popen.pid for w in workers],
        )


async def _warm(addresses: list[str]) -> list[str]:
    """A session per address, each with one turn taken (its reply now cached)."""
    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:

        async def session(address: str) -> str:
            reply = await client.post(f"http://{address}/api/voice/sessions", json={})
            sid: str = reply.json()["id"]
            turn = await client.post(
                f"http://{address}/api/voice/sessions/{sid}/text", json={"text": QUESTION}
            )
            assert turn.status_code == 200, turn.text
            return sid

        gate = asyncio.Semaphore(32)

        async def bounded(address: str) -> str:
            async with gate:
                return await session(address)

        return await asyncio.gather(*(bounded(a) for a in addresses))


def run_load(targets: list[str], pids: list[int], seconds: float) -> LoadResult:
    """Every session turns for SETTLE_SECONDS, then `seconds` measured."""
    result = LoadResult(seconds)
    stop = threading.Event()

    async def drive() -> None:
        start = time.monotonic()
        measured_from = start + SETTLE_SECONDS
        sampler = threading.Thread(
            target=_delayed_sampler, args=(pids, result, stop, measured_from)
        )
        sampler.start()
        try:
            until = measured_from + seconds
            clients = []
            for target in targets:
                address, session = target.split("|")
                clients.append(_client(address, session, until, result, measured_from))
            await asyncio.gather(*clients)
        finally:
            stop.set()
            sampler.join()

    asyncio.run(drive())
    return result


def _delayed_sampler(
    pids: list[int], result: LoadResult, stop: threading.Event, start: float
) -> None:
    if stop.wait(max(0.0, start - time.monotonic())):
        return
    _sample_memory(pids, result, stop)


def _free_port() -> int:
    from harness.processes import free_port

    return free_port()
