"""Processes and servers the worker tests start: a worker subprocess, an ASGI app on
uvicorn in a thread (fakes, in-process workers), a throwaway redis-server."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from harness.processes import ROOT, Process, free_port


def wait_http(
    url: str, timeout: float = 60.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before {url} answered")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.1)
    raise TimeoutError(f"{url} not answering after {timeout}s: {last}")


def stop(popen: subprocess.Popen[bytes]) -> None:
    if popen.poll() is None:
        popen.terminate()
        try:
            popen.wait(timeout=20)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait()


@contextmanager
def worker_process(
    tmp_path: Path, model_server: str, env: dict[str, str] | None = None
) -> Iterator[Process]:
    """`voice-engine serve-worker` as a subprocess on a free port, answering /healthz."""
    port = free_port()
    log_path = tmp_path / f"worker-{port}.log"
    environment = {
        **os.environ,
        "VOICE_LOG__LEVEL": "WARNING",
        "VOICE_DATA_DIR": str(tmp_path / "data"),  # the session store, off the repo
        **(env or {}),
    }
    command = [sys.executable, "-m", "voice_engine.cli", "serve-worker", "--port", str(port)]
    command += ["--host", "127.0.0.1", "--model-server", model_server]
    with log_path.open("wb") as log_file:
        popen = subprocess.Popen(
            command, env=environment, stdout=log_file, stderr=subprocess.STDOUT, cwd=ROOT
        )
    process = Process(popen, f"127.0.0.1:{port}", log_path)
    try:
        wait_http(f"http://{process.address}/healthz", process=popen)
        yield process
    finally:
        stop(popen)


class ThreadServer:
    """An ASGI app served by uvicorn on 127.0.0.1:<free port> in a daemon thread."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.run(self.server.serve())

    def __enter__(self) -> ThreadServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@dataclass
class RedisServer:
    """A throwaway `redis-server --port <free> --save ""` that tests may stop and
    restart (never the machine's own Redis on 6379)."""

    port: int
    directory: Path
    popen: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        self.popen = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        import redis

        while time.monotonic() < deadline:
            try:
                if redis.Redis(port=self.port, socket_timeout=0.5).ping():
                    return
            except redis.RedisError:
                time.sleep(0.05)
        raise TimeoutError("redis-server did not start")

    def stop(self) -> None:
        if self.popen is not None:
            stop(self.popen)
            self.popen = None
