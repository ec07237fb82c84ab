"""Fixtures shared by every test package: a real model server on a real port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.processes import Process, model_server_process


@pytest.fixture(scope="session")
def model_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    """One `voice-engine serve-models` subprocess (embedded Piper voice) for the session."""
    with model_server_process(tmp_path_factory.mktemp("model-server")) as process:
        yield process
