"""A small keep-alive HTTP/1.1 load generator on asyncio (uvloop when installed): one
connection per simulated client, minimal parsing, so that it measures the server
rather than itself (httpx costs several times more CPU per request)."""

from __future__ import annotations

import asyncio
import json
import time

from bench.report import percentile

SINGLE_REQUESTS = 2000
CONCURRENCY = 32
LOAD_SECONDS = 6.0
TEXT = "Hello there. Your order has shipped and will arrive tomorrow."


def request_bytes(host: str, text: str, headers: dict[str, str] | None = None) -> bytes:
    body = json.dumps({"model": "tts-1", "voice": "alloy", "input": text}).encode()
    extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    head = (
        f"POST /v1/audio/speech HTTP/1.1\r\nHost: {host}\r\n{extra}"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class Connection:
    """One keep-alive connection; `call()` sends the request and reads the reply."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def call(self, payload: bytes) -> int:
        self.writer.write(payload)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length, chunked = 0, False
        for line in head.split(b"\r\n"):
            lower = line.lower()
            if lower.startswith(b"content-length:"):
                length = int(line[15:])
            elif lower.startswith(b"transfer-encoding:") and b"chunked" in lower:
                chunked = True
        if chunked:  # a cache miss streams its audio
            while size := int((await self.reader.readuntil(b"\r\n"))[:-2], 16):
                await self.reader.readexactly(size + 2)
            await self.reader.readuntil(b"\r\n")
        elif length:
            await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


async def single_client(port: int, payload: bytes) -> list[float]:
    conn = await Connection.open(port)
    times = []
    for _ in range(SINGLE_REQUESTS):
        start = time.perf_counter()
        status = await conn.call(payload)
        times.append(time.perf_counter() - start)
        assert status == 200, status
    conn.close()
    return times


async def concurrent_clients(port: int, payload: bytes) -> tuple[float, list[float]]:
    conns = [await Connection.open(port) for _ in range(CONCURRENCY)]
    latencies: list[float] = []
    deadline = time.perf_counter() + LOAD_SECONDS

    async def client(conn: Connection) -> None:
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            status = await conn.call(payload)
            latencies.append(time.perf_counter() - start)
            assert status == 200, status

    start = time.perf_counter()
    await asyncio.gather(*(client(c) for c in conns))
    elapsed = time.perf_counter() - start
    for conn in conns:
        conn.close()
    return len(latencies) / elapsed, latencies


async def http_load(port: int, headers: dict[str, str] | None = None) -> dict[str, float]:
    payload = request_bytes(f"127.0.0.1:{port}", TEXT, headers)
    # warm every worker process's cache (connections land on either process)
    conns = [await Connection.open(port) for _ in range(16)]
    for conn in conns:
        await conn.call(payload)
        conn.close()
    single = await single_client(port, payload)
    rps, latencies = await concurrent_clients(port, payload)
    return {
        "single_p50_ms": percentile(single, 50) * 1000,
        "single_p99_ms": percentile(single, 99) * 1000,
        "c32_rps": rps,
        "c32_p50_ms": percentile(latencies, 50) * 1000,
        "c32_p99_ms": percentile(latencies, 99) * 1000,
    }
