"""The engine's processes on free ports (a model server, ...), and checks of audio (word
error rate, decoding) for tests and benchmarks."""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
JFK_TRANSCRIPT = (
    "And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Process:
    popen: subprocess.Popen[bytes]
    address: str
    log_path: Path
    metrics_url: str = ""  # a model server's Prometheus metrics

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def wait_for_grpc_health(address: str, timeout: float = 60.0, service: str = "") -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with grpc.insecure_channel(address) as channel:
                reply = health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(service=service), timeout=2
                )
            if reply.status == health_pb2.HealthCheckResponse.SERVING:
                return
        except grpc.RpcError as exc:
            last = exc
        time.sleep(0.1)
    raise TimeoutError(f"model server at {address} not SERVING after {timeout}s: {last}")


@contextmanager
def model_server_process(
    tmp_path: Path, env: dict[str, str] | None = None, port: int | None = None, wait: bool = True
) -> Iterator[Process]:
    """`voice-engine serve-models` as a subprocess on a free port (its metrics on
    another), SERVING on exit of the `with` header (just started, with `wait=False`);
    terminated (SIGTERM) afterwards."""
    port = port or free_port()
    log_path = tmp_path / f"model-server-{port}.log"
    environment = {
        **os.environ,
        "VOICE_PORT": str(port),
        "VOICE_METRICS_PORT": str(free_port()),
        **(env or {}),
    }
    with log_path.open("wb") as log_file:
        popen = subprocess.Popen(
            [sys.executable, "-m", "voice_engine.cli", "serve-models", "--host", "127.0.0.1"],
            env=environment,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    metrics_port = int(environment["VOICE_METRICS_PORT"])
    metrics_url = f"http://127.0.0.1:{metrics_port}/metrics" if metrics_port else ""
    process = Process(popen, f"127.0.0.1:{port}", log_path, metrics_url)
    try:
        if wait:
            wait_for_grpc_health(process.address)
        yield process
    finally:
        if popen.poll() is None:
            popen.terminate()
            try:
                popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait()


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Levenshtein distance over words, divided by the reference's word count."""
    ref, hyp = words(reference), words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[len(hyp)] / max(len(ref), 1)


def decode(data: bytes) -> tuple[int, float, int]:
    """(sample rate, duration in seconds, channels) of an encoded file, read by FFmpeg."""
    import av

    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.audio[0]
        samples = sum(int(frame.samples) for frame in container.decode(stream))
        rate = stream.codec_context.sample_rate
        return rate, samples / rate, stream.codec_context.channels
