"""Tool test fixtures: the fake upstream (OpenAI's/Venice's streaming contract)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.fake_venice import FakeVenice
from harness.servers import ThreadServer


@pytest.fixture(scope="session")
def fake_venice() -> Iterator[tuple[FakeVenice, str]]:
    """(the fake, its base URL ending in /api/v1)."""
    fake = FakeVenice()
    with ThreadServer(fake.app) as server:
        yield fake, f"{server.url}/api/v1"
