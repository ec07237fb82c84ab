"""Voice worker benchmark, in one run on this machine with 2 worker processes
(`serve-worker --workers 2`, the load generator on the same cores):

- cached `POST /v1/audio/speech`: latency for one client (p50, p99; target p50 at most
  5 ms) and requests per second at 32 concurrent clients (target at least 1000);
- local transcription of jfk.flac through the worker vs faster-whisper called
  directly on the same model with the same options (target within 1.10x).

The load generator is a small keep-alive HTTP/1.1 client on uvloop (one connection
per simulated client), so that it measures the worker rather than itself.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.report import median, percentile, print_table, write_result
from tests.helpers import DATA, JFK_TRANSCRIPT, free_port, model_server_process, word_error_rate

TEXT = "Hello there. Your order has shipped and will arrive tomorrow."
SINGLE_REQUESTS = 2000
CONCURRENCY = 32
LOAD_SECONDS = 6.0
TRANSCRIBE_REPEATS = 5


def request_bytes(host: str, text: str) -> bytes:
    body = json.dumps({"model": "tts-1", "voice": "alloy", "input": text}).encode()
    head = (
        f"POST /v1/audio/speech HTTP/1.1\r\nHost: {host}\r\n"
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


async def http_load(port: int) -> dict[str, float]:
    payload = request_bytes(f"127.0.0.1:{port}", TEXT)
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


def transcribe_through_worker(url: str) -> tuple[float, str]:
    data = (DATA / "jfk.flac").read_bytes()
    times, text = [], ""
    with httpx.Client(timeout=120) as client:
        for i in range(TRANSCRIBE_REPEATS + 1):
            start = time.perf_counter()
            reply = client.post(
                f"{url}/v1/audio/transcriptions",
                files={"file": ("jfk.flac", data)},
                data={"model": "whisper-1"},
            )
            if i:  # the first is a warm-up
                times.append(time.perf_counter() - start)
            reply.raise_for_status()
            text = reply.json()["text"]
    return median(times), text


def transcribe_directly() -> tuple[float, str]:
    from faster_whisper import WhisperModel

    from voice_worker.settings import LocalSTTSettings
    from voice_worker.stt.local import default_model_path

    local = LocalSTTSettings()
    model = WhisperModel(
        str(default_model_path()),
        device="cpu",
        compute_type=local.compute_type,
        cpu_threads=os.cpu_count() or 1,
        local_files_only=True,
    )
    path = str(DATA / "jfk.flac")
    times, text = [], ""
    for i in range(TRANSCRIBE_REPEATS + 1):
        start = time.perf_counter()
        segments, _ = model.transcribe(path, beam_size=local.beam_size)
        text = "".join(s.text for s in segments).strip()
        if i:
            times.append(time.perf_counter() - start)
    return median(times), text


def start_workers(port: int, model_server: str, log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "voice_engine.cli", "serve-worker", "--workers", "2"]
    command += ["--port", str(port), "--model-server", model_server]
    env = {**os.environ, "VOICE_LOG__LEVEL": os.environ.get("VOICE_LOG__LEVEL", "INFO")}
    with log.open("wb") as out:
        popen = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                time.sleep(3)  # the second process may still be loading its model
                return popen
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    popen.kill()
    raise TimeoutError(f"worker did not start; see {log}")


def main() -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    with tempfile.TemporaryDirectory() as tmp, model_server_process(Path(tmp)) as server:
        port = free_port()
        workers = start_workers(port, server.address, Path(tmp) / "worker.log")
        try:
            load = asyncio.run(http_load(port))
            via_worker, worker_text = transcribe_through_worker(f"http://127.0.0.1:{port}")
        finally:
            workers.terminate()
            workers.wait(timeout=30)
    direct, direct_text = transcribe_directly()
    ratio = via_worker / direct
    rows: list[dict[str, Any]] = [
        {
            "measure": "cached speech, 1 client, p50 (ms)",
            "value": load["single_p50_ms"],
            "target": "<= 5",
            "ok": load["single_p50_ms"] <= 5,
        },
        {
            "measure": "cached speech, 1 client, p99 (ms)",
            "value": load["single_p99_ms"],
            "target": "",
            "ok": "",
        },
        {
            "measure": "cached speech, 32 clients (req/s)",
            "value": load["c32_rps"],
            "target": ">= 1000",
            "ok": load["c32_rps"] >= 1000,
        },
        {
            "measure": "cached speech, 32 clients, p50 / p99 (ms)",
            "value": f"{load['c32_p50_ms']:.2f} / {load['c32_p99_ms']:.2f}",
            "target": "",
            "ok": "",
        },
        {"measure": "jfk.flac via worker (s)", "value": via_worker, "target": "", "ok": ""},
        {"measure": "jfk.flac faster-whisper direct (s)", "value": direct, "target": "", "ok": ""},
        {"measure": "worker / direct", "value": ratio, "target": "<= 1.10", "ok": ratio <= 1.10},
    ]
    print_table("voice worker (2 processes, load generator on the same machine)", rows)
    write_result(
        "worker",
        {
            **load,
            "transcribe_worker_s": via_worker,
            "transcribe_direct_s": direct,
            "transcribe_ratio": ratio,
            "wer_worker": word_error_rate(JFK_TRANSCRIPT, worker_text),
            "wer_direct": word_error_rate(JFK_TRANSCRIPT, direct_text),
            "cpus": os.cpu_count(),
        },
    )


if __name__ == "__main__":
    main()
