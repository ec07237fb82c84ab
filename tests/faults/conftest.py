"""Fault tests: real processes (workers, the bridge, a private PostgreSQL, a throwaway
Redis, the model server) broken on purpose while they work, each bounded in time."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.postgres import PrivatePostgres
from harness.processes import free_port
from harness.servers import RedisServer
from tests.deploy.test_bridge import node_modules  # noqa: F401 (a fixture)


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres()
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(free_port(), tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()
