"""Model servers for the fleet tests and benchmark: real `voice-engine serve-models`
processes that can be SIGKILLed, drained (SIGTERM) and started again on the same
address; which requests each one served, read from its log (one "speech" line per
request, with the request ID the worker sent)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from harness.processes import ROOT, wait_for_grpc_health
from model_server.backends.piper import bundled_voice_path

#: one core's worth of Piper per server, and a log line per request
BASE_ENV = {
    "VOICE_PIPER__WORKERS": "1",
    "VOICE_PIPER__SOLO_THREADS": "1",
    "VOICE_LOG__LEVEL": "INFO",
    "VOICE_LOG__JSON_FORMAT": "true",
}


def voices_dir(path: Path, names: Iterable[str]) -> Path:
    """A VOICE_PIPER__VOICES_DIR holding the bundled voice as `<name>.onnx` for each
    name: the server then has a model `piper-<name>` per name."""
    path.mkdir(parents=True, exist_ok=True)
    onnx = bundled_voice_path()
    for name in names:
        (path / f"{name}.onnx").symlink_to(onnx)
        shutil.copyfile(f"{onnx}.json", path / f"{name}.onnx.json")
    return path


def shared_port(hosts: Sequence[str]) -> int:
    """A port free on every one of `hosts` (loopback addresses)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind((hosts[0], 0))
            port = int(s.getsockname()[1])
        try:
            for host in hosts:
                with socket.socket() as s:
                    s.bind((host, port))
        except OSError:
            continue
        return port
    raise RuntimeError(f"no port free on all of {hosts}")


class ServerSlot:
    """One model server at a fixed address, started and stopped at will."""

    def __init__(
        self,
        log_dir: Path,
        host: str,
        port: int,
        env: dict[str, str] | None = None,
        prefix: Sequence[str] = (),
    ) -> None:
        self.host, self.port = host, port
        self.address = f"{host}:{port}"
        self.env = {**os.environ, **BASE_ENV, "VOICE_PORT": str(port), **(env or {})}
        self.prefix = list(prefix)  # e.g. ["taskset", "-c", "0"]
        self.log_path = log_dir / f"model-server-{host}-{port}.log"
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> ServerSlot:
        """Launch (not waiting: see `wait_serving`)."""
        command = [sys.executable, "-m", "voice_engine.cli", "serve-models", "--host", self.host]
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                [*self.prefix, *command],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        return self

    def wait_serving(self, timeout: float = 90) -> None:
        wait_for_grpc_health(self.address, timeout)

    def signal(self, sig: signal.Signals) -> None:
        assert self.popen is not None and self.popen.poll() is None, "not running"
        self.popen.send_signal(sig)

    def wait_exit(self, timeout: float = 60) -> int:
        assert self.popen is not None
        return self.popen.wait(timeout)

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()

    def served(self) -> set[str]:
        """The request IDs this server has finished (its "speech" log lines)."""
        found = set()
        for line in self.log_path.read_text(errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and entry.get("msg") == "speech":
                found.add(str(entry.get("request_id")))
        return found


def start_all(slots: Iterable[ServerSlot]) -> None:
    """Start every server, then wait until each is SERVING (they load side by side)."""
    started = [slot.start() for slot in slots]
    for slot in started:
        slot.wait_serving()


def stop_all(slots: Iterable[ServerSlot]) -> None:
    for slot in slots:
        slot.stop()
