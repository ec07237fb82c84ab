"""The agent frameworks' own realtime clients against a real worker (issue 19): pipecat,
LiveKit Agents and openai-agents live in .venv-agents (`make test` builds it and runs
these tests with its pytest); the engine runs as subprocesses of the main virtualenv's
python (tests/agents/stack.py; VOICE_MAIN_PYTHON names it, else .venv/bin/python). In
an environment without the frameworks these tests are not collected."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
FRAMEWORKS = ("pipecat", "livekit.agents", "agents")


def _missing(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is None
    except ModuleNotFoundError:
        return True


if any(_missing(m) for m in FRAMEWORKS) or _missing("livekit.plugins.openai"):
    collect_ignore_glob = ["test_*.py"]


@dataclass(frozen=True)
class Stack:
    """Where the engine is, and the test speech (raw pcm16 24 kHz)."""

    worker: str  # http://127.0.0.1:port
    venice: str
    worker_log: Path
    speech: dict[str, Path]

    @property
    def realtime_url(self) -> str:
        return self.worker.replace("http://", "ws://") + "/v1/realtime"

    def pcm(self, name: str) -> bytes:
        return self.speech[name].read_bytes()

    def scenario(self, name: str, calls: list[Any] | None = None) -> None:
        """What the fake chat model answers from now on (`calls`: the tools it calls,
        [name, arguments] each, in the tool scenarios)."""
        import httpx

        params = {"name": name, "calls": json.dumps(calls or [])}
        httpx.post(f"{self.venice}/test/scenario", params=params).raise_for_status()

    def history(self, session_id: str) -> list[tuple[str, str]]:
        """The stored messages of a session: (role, text), oldest first."""
        import httpx

        page = httpx.get(f"{self.worker}/api/voice/sessions/{session_id}/messages", timeout=10)
        page.raise_for_status()
        items: list[dict[str, Any]] = page.json()["items"]
        return [(m["role"], m["text"]) for m in items]

    def sessions(self) -> list[str]:
        import httpx

        page = httpx.get(f"{self.worker}/api/voice/sessions", timeout=10)
        page.raise_for_status()
        return [s["id"] for s in page.json()["items"]]


def main_python() -> str:
    return os.environ.get("VOICE_MAIN_PYTHON") or str(ROOT / ".venv" / "bin" / "python")


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    directory = tmp_path_factory.mktemp("agents-stack")
    popen = subprocess.Popen(
        [main_python(), "-m", "tests.agents.stack", str(directory)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert popen.stdout is not None and popen.stdin is not None
    try:
        line = popen.stdout.readline()
        if not line:
            raise RuntimeError(f"the engine did not start (exit {popen.wait()})")
        where = json.loads(line)
        yield Stack(
            where["worker"],
            where["venice"],
            Path(where["worker_log"]),
            {name: Path(path) for name, path in where["speech"].items()},
        )
    finally:
        popen.stdin.close()
        try:
            popen.wait(timeout=60)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait()
