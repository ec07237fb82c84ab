"""Realtime test fixtures: a worker in this process (uvicorn on a thread) with the
session's model server for speech, local faster-whisper, and the fake Venice for
replies the tests choose (`fake.scenario`); the official SDK pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from openai import AsyncOpenAI

from harness.fake_venice import KEY, FakeVenice
from harness.processes import Process
from harness.servers import ThreadServer
from voice_worker.app import create_app
from voice_worker.settings import Settings


@dataclass
class Worker:
    url: str
    fake: FakeVenice

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/v1/realtime"

    def sdk(self) -> AsyncOpenAI:
        """The official SDK; `websocket_base_url` for the beta client (it assumes wss)."""
        base = f"{self.url}/v1"
        return AsyncOpenAI(
            base_url=base,
            websocket_base_url=base.replace("http://", "ws://"),
            api_key="not-needed",
            max_retries=0,
        )


@pytest.fixture(scope="package")
def fake() -> Iterator[tuple[FakeVenice, str]]:
    venice = FakeVenice()
    with ThreadServer(venice.app) as server:
        yield venice, f"{server.url}/api/v1"


def worker_settings(
    model_server: Process, venice_url: str, data_dir: Path, **realtime: object
) -> Settings:
    return Settings(
        stt={"provider": "local"},
        tts={"model_server": model_server.address, "max_retries": 0},
        chat={
            "provider": "venice",
            "max_retries": 0,
            "venice": {"api_key": KEY, "base_url": venice_url},
        },
        response_cache={"enabled": False},
        database={"tts_models_sync_seconds": 0},
        data_dir=data_dir,
        access_log=False,
        realtime=realtime,
    )


@pytest.fixture(scope="package")
def worker(
    model_server: Process,
    fake: tuple[FakeVenice, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Worker]:
    venice, venice_url = fake
    settings = worker_settings(model_server, venice_url, tmp_path_factory.mktemp("realtime"))
    with ThreadServer(create_app(settings)) as server:
        yield Worker(server.url, venice)
    venice.release.set()


@pytest.fixture
def venice(worker: Worker) -> Iterator[FakeVenice]:
    """The fake, reset for one test."""
    worker.fake.scenario = "plain"
    worker.fake.release.clear()
    yield worker.fake
    worker.fake.release.set()
