"""Voice worker benchmark, in one run on this machine with 2 worker processes
(`serve-worker --workers 2`, the load generator on the same cores):

- cached `POST /v1/audio/speech`: latency for one client (p50, p99; target p50 at most
  5 ms) and requests per second at 32 concurrent clients (target at least 1000);
- local transcription of jfk.flac through the worker vs faster-whisper called
  directly on the same model with the same options (target within 1.10x).

Cached speech is measured twice: with the in-memory cache (the default) and with
`VOICE_CACHE__BACKEND=redis` on a throwaway redis-server (every hit a Redis GET).
The load generator (bench/http_load.py) is a keep-alive HTTP/1.1 client on uvloop.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.http_load import http_load
from bench.report import median, print_table, write_result
from harness.processes import DATA, JFK_TRANSCRIPT, free_port, model_server_process, word_error_rate
from harness.servers import RedisServer

TRANSCRIBE_REPEATS = 5


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

    from voice_worker.stt.local import default_model_path
    from voice_worker.stt.settings import LocalSTTSettings

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


def start_workers(
    port: int, model_server: str, log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "voice_engine.cli", "serve-worker", "--workers", "2"]
    command += ["--port", str(port), "--model-server", model_server]
    with log.open("wb") as out:
        popen = subprocess.Popen(
            command, env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT
        )
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


def stop(popen: subprocess.Popen[bytes]) -> None:
    popen.terminate()
    try:
        popen.wait(timeout=30)
    except subprocess.TimeoutExpired:
        popen.kill()


def measure(tmp: Path, model_server: str) -> tuple[dict[str, dict[str, float]], float, str]:
    """Cached speech with the in-memory cache (the default) and with a throwaway Redis
    (every hit is a Redis GET); transcription on the default workers."""
    load: dict[str, dict[str, float]] = {}
    port = free_port()
    workers = start_workers(port, model_server, tmp / "worker-memory.log")
    try:
        load["memory"] = asyncio.run(http_load(port))
        via_worker, text = transcribe_through_worker(f"http://127.0.0.1:{port}")
    finally:
        stop(workers)
    redis = RedisServer(free_port(), tmp)
    redis.start()
    env = {
        "VOICE_CACHE__BACKEND": "redis",
        "VOICE_CACHE__REDIS_URL": redis.url,
        "VOICE_STT__PROVIDER": "mock",
    }
    port = free_port()
    workers = start_workers(port, model_server, tmp / "worker-redis.log", env)
    try:
        load["redis"] = asyncio.run(http_load(port))
    finally:
        stop(workers)
        redis.stop()
    return load, via_worker, text


def main() -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    with tempfile.TemporaryDirectory() as tmp, model_server_process(Path(tmp)) as server:
        load, via_worker, worker_text = measure(Path(tmp), server.address)
    direct, direct_text = transcribe_directly()
    ratio = via_worker / direct
    rows: list[dict[str, Any]] = []
    for backend, figures in load.items():
        p50, rps = figures["single_p50_ms"], figures["c32_rps"]
        rows += [
            {
                "measure": f"cached speech ({backend}), 1 client, p50 / p99 (ms)",
                "value": f"{p50:.3f} / {figures['single_p99_ms']:.3f}",
                "target": "p50 <= 5",
                "ok": p50 <= 5,
            },
            {
                "measure": f"cached speech ({backend}), 32 clients (req/s)",
                "value": rps,
                "target": ">= 1000",
                "ok": rps >= 1000,
            },
            {
                "measure": f"cached speech ({backend}), 32 clients, p50 / p99 (ms)",
                "value": f"{figures['c32_p50_ms']:.2f} / {figures['c32_p99_ms']:.2f}",
                "target": "",
                "ok": "",
            },
        ]
    rows += [
        {"measure": "jfk.flac via worker (s)", "value": via_worker, "target": "", "ok": ""},
        {"measure": "jfk.flac faster-whisper direct (s)", "value": direct, "target": "", "ok": ""},
        {"measure": "worker / direct", "value": ratio, "target": "<= 1.10", "ok": ratio <= 1.10},
    ]
    print_table("voice worker (2 processes, load generator on the same machine)", rows)
    write_result(
        "worker",
        {
            "cached_speech": load,
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
