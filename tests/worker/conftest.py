"""Worker test fixtures: one worker subprocess (local faster-whisper, the session's
model server, in-memory cache) and the official `openai` SDK pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from harness.processes import Process
from harness.servers import worker_process


@pytest.fixture(scope="session")
def worker(tmp_path_factory: pytest.TempPathFactory, model_server: Process) -> Iterator[Process]:
    with worker_process(tmp_path_factory.mktemp("worker"), model_server.address) as process:
        yield process


@pytest.fixture(scope="session")
def worker_url(worker: Process) -> str:
    return f"http://{worker.address}"


@pytest.fixture(scope="session")
def client(worker_url: str) -> openai.OpenAI:
    """The official SDK, unchanged, retries off."""
    return openai.OpenAI(base_url=f"{worker_url}/v1", api_key="not-needed", max_retries=0)
