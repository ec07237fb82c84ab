"""`voice-engine up` (what `make run` runs): a model server and a worker, both
answering; SIGTERM stops both."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import httpx

from harness.processes import ROOT, free_port
from harness.servers import stop, wait_http


def test_up_starts_both_and_stops_on_sigterm() -> None:
    model_port, http_port = free_port(), free_port()
    env = {**os.environ, "VOICE_STT__PROVIDER": "mock", "VOICE_LOG__LEVEL": "WARNING"}
    command = [sys.executable, "-m", "voice_engine.cli", "up", "--model-port", str(model_port)]
    popen = subprocess.Popen(
        [*command, "--port", str(http_port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert popen.stdout is not None
        banner = popen.stdout.readline().decode() + popen.stdout.readline().decode()
        assert f"127.0.0.1:{model_port}" in banner
        assert f"http://127.0.0.1:{http_port}" in banner
        wait_http(f"http://127.0.0.1:{http_port}/readyz", timeout=90, process=popen)
        speech = httpx.post(
            f"http://127.0.0.1:{http_port}/v1/audio/speech",
            json={"model": "tts-1", "voice": "alloy", "input": "Up and running."},
            timeout=60,
        )
        assert speech.status_code == 200
        popen.send_signal(signal.SIGTERM)
        assert popen.wait(timeout=30) == 0
        for port in (model_port, http_port):
            with httpx.Client() as client:
                try:
                    client.get(f"http://127.0.0.1:{port}/", timeout=1)
                    raise AssertionError(f"port {port} still answers")
                except httpx.ConnectError:
                    pass
    finally:
        stop(popen)
