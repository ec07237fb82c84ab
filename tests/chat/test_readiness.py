"""/readyz tells a load balancer when the session store is out of reach."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import create_async_engine

from harness.processes import free_port
from voice_worker.health.probe import store_readiness
from voice_worker.store.sql import SqlStore


async def test_store_readiness_reports_an_unreachable_database_without_its_url() -> None:
    url = f"postgresql+asyncpg://voice:s3cret-pw@127.0.0.1:{free_port()}/nowhere"
    engine = create_async_engine(url)
    try:
        state = await store_readiness(SqlStore(engine))
    finally:
        await engine.dispose()
    assert state.ready is False
    detail = state.detail
    assert detail.split(":")[0] in {"OSError", "ConnectionRefusedError", "OperationalError"}
    assert "s3cret-pw" not in detail


async def test_store_readiness_is_ready_for_a_working_sqlite_file(tmp_path: Path) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'ok.db'}")
    try:
        assert (await store_readiness(SqlStore(engine))).ready
    finally:
        await engine.dispose()
