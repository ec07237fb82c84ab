"""The SQLAlchemy engine for a store URL: the async driver (aiosqlite or asyncpg), the
pool, and SQLite's pragmas (WAL journal so that readers never block the writer, foreign
keys on, a busy timeout instead of an immediate "database is locked")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def async_url(url: str) -> sa.URL:
    """The URL with an async driver: sqlite -> aiosqlite, postgresql -> asyncpg."""
    parsed = sa.make_url(url.replace("postgres://", "postgresql://", 1))
    if parsed.get_backend_name() == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    if parsed.get_backend_name() == "postgresql":
        return parsed.set(drivername="postgresql+asyncpg")
    raise ValueError(f"unsupported database URL {url!r}: use sqlite:/// or postgresql://")


def make_engine(url: str, pool_size: int = 5, echo: bool = False) -> AsyncEngine:
    target = async_url(url)
    options: dict[str, Any] = {"echo": echo}
    if target.get_backend_name() == "postgresql":
        options.update(pool_size=pool_size, pool_pre_ping=True)  # survive a server restart
    elif target.database and target.database != ":memory:":
        _make_parent(Path(target.database))
    engine = create_async_engine(target, **options)
    if target.get_backend_name() == "sqlite":
        sa.event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _make_parent(path: Path) -> None:
    path.expanduser().parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
