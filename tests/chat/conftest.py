"""Chat test fixtures: the fake Venice server, the store on SQLite and on PostgreSQL
(one throwaway database per test session, dropped after), real STT/TTS providers."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from harness.fake_venice import FakeVenice
from harness.processes import Process
from harness.servers import ThreadServer
from voice_worker.store.sql import SqlStore, open_store

PG_ADMIN = os.environ.get("VOICE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def fake_venice() -> Iterator[tuple[FakeVenice, str]]:
    """(the fake, its base URL ending in /api/v1)."""
    fake = FakeVenice()
    with ThreadServer(fake.app) as server:
        yield fake, f"{server.url}/api/v1"


def _postgres_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


async def _admin(statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(PG_ADMIN)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of its own for this test session, dropped at the end."""
    if not _postgres_reachable():
        pytest.skip("no PostgreSQL server on 127.0.0.1:5432")
    name = f"voice_chat_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'voice.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[SqlStore]:
    """A migrated store with no rows (PostgreSQL's database is shared by the session)."""
    opened = await open_store(database_url)
    async with opened.engine.begin() as conn:
        from voice_worker.store import migrations as m

        for table in (m.messages, m.sessions, m.tts_models, m.idempotency_keys):
            await conn.execute(table.delete())
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture(scope="session")
def model_server_address(model_server: Process) -> str:
    return model_server.address
