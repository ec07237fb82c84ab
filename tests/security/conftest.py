"""Security test fixtures: the store fixtures of the chat tests (SQLite and PostgreSQL),
and a fake Venice server of this package's own (its scenario is ours to set)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.fake_venice import FakeVenice
from harness.servers import ThreadServer
from tests.chat.conftest import database_url, postgres_url, store

__all__ = ["database_url", "postgres_url", "store"]


@pytest.fixture(scope="module")
def venice() -> Iterator[tuple[FakeVenice, str]]:
    """(a fake Venice of this module's own, its base URL ending in /api/v1)."""
    fake = FakeVenice()
    fake.scenario = "plain"
    with ThreadServer(fake.app) as server:
        yield fake, f"{server.url}/api/v1"
