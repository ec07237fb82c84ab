"""The schema and its versioned migrations.

Each migration is a numbered step run once, in order, inside one transaction that also
records it in `voice_schema_migrations`; a database is at the highest version recorded.
Workers that start together are serialized: on PostgreSQL by a transaction-scoped
advisory lock, on SQLite (one machine) by an exclusive lock on a file next to the
database (SQLite's driver would not take its write lock before the first DDL).
Tables are declared here (SQLAlchemy Core) as they are now, for the queries; step 1
creates them as they were first released (`_v1_sessions`, `_v1_messages`), and every
later change is a new step with its own DDL (steps 2 to 6 show the shape), never an
edit of an earlier one. `migrate(engine, target)` stops at a version (tests build old
databases so)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

metadata = sa.MetaData()
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite: INTEGER PRIMARY KEY

migrations_table = sa.Table(
    "voice_schema_migrations",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("applied_at", sa.Float, nullable=False),
)
#: the owner of the rows that existed before sessions had owners (auth.principal's)
ANONYMOUS_OWNER = "anonymous"
MAX_OWNER_CHARS = 200


def _session_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("title", sa.Text, nullable=False, server_default=""),
        sa.Column("settings", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    ]


sessions = sa.Table(
    "voice_chat_sessions",
    metadata,
    *_session_columns(),
    sa.Column(  # step 3
        "owner", sa.String(MAX_OWNER_CHARS), nullable=False, server_default=ANONYMOUS_OWNER
    ),
)


def _message_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column(
            "session_id",
            sa.String(32),
            sa.ForeignKey("voice_chat_sessions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("thinking", sa.Text, nullable=False, server_default=""),
        sa.Column("transcript", sa.Text),
        sa.Column("audio_format", sa.String(16)),
        sa.Column("audio_duration", sa.Float),
        sa.Column("timings", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    ]


MESSAGES_INDEX = ("ix_voice_chat_messages_session", "session_id", "id")
messages = sa.Table(
    "voice_chat_messages",
    metadata,
    *_message_columns(),
    sa.Column("tool_calls", sa.JSON),  # step 6: the tool calls of a reply (None: none)
    sa.Index(*MESSAGES_INDEX),
)
#: step 4: the turn in progress of a session, across workers: one row while a turn runs,
#: its token fencing the turn's write (store.sql: acquire_turn, add_turn)
turn_leases = sa.Table(
    "voice_turn_leases",
    metadata,
    sa.Column(
        "session_id",
        sa.String(32),
        sa.ForeignKey("voice_chat_sessions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("token", sa.String(32), nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
)
tts_models = sa.Table(
    "tts_models",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("backend", sa.String(50), nullable=False),
    sa.Column("sample_rate", sa.Integer, nullable=False),
    sa.Column("is_default", sa.Boolean, nullable=False),
    sa.Column("state", sa.String(32), nullable=False),
    sa.Column("synced_at", sa.Float, nullable=False),
)

#: Idempotency-Key of each request that sent one (voice_worker.conversation.idempotency):
#: `running` while its owner (a claim token) holds a lease it renews, `done` with the
#: stored result, written in the same transaction as what the request stored
idempotency_keys = sa.Table(
    "voice_idempotency_keys",
    metadata,
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("owner", sa.String(32), nullable=False),
    sa.Column("lease_until", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Column("result", sa.Text),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Index("ix_voice_idempotency_keys_expires", "expires_at"),
)


def _v1_sessions() -> sa.Table:
    """voice_chat_sessions as step 1 made it (before owners)."""
    return sa.Table("voice_chat_sessions", sa.MetaData(), *_session_columns())


def _v1_messages() -> sa.Table:
    """voice_chat_messages as step 1 made it (before tool calls)."""
    old = sa.MetaData()
    _v1_sessions().to_metadata(old)
    return sa.Table("voice_chat_messages", old, *_message_columns(), sa.Index(*MESSAGES_INDEX))


def _initial(conn: sa.Connection) -> None:
    for table in (_v1_sessions(), _v1_messages(), tts_models):
        table.create(conn)


def _sessions_by_time(conn: sa.Connection) -> None:
    conn.execute(
        sa.text(
            "CREATE INDEX ix_voice_chat_sessions_created ON voice_chat_sessions (created_at, id)"
        )
    )


def _idempotency_keys(conn: sa.Connection) -> None:
    idempotency_keys.create(conn)


def _owners(conn: sa.Connection) -> None:
    conn.execute(
        sa.text(
            f"ALTER TABLE voice_chat_sessions ADD COLUMN owner VARCHAR({MAX_OWNER_CHARS}) "
            f"NOT NULL DEFAULT '{ANONYMOUS_OWNER}'"
        )
    )
    conn.execute(
        sa.text(
            "CREATE INDEX ix_voice_chat_sessions_owner "
            "ON voice_chat_sessions (owner, created_at, id)"
        )
    )


def _turn_leases(conn: sa.Connection) -> None:
    turn_leases.create(conn)


def _tool_calls(conn: sa.Connection) -> None:
    conn.execute(sa.text("ALTER TABLE voice_chat_messages ADD COLUMN tool_calls JSON"))


MIGRATIONS: list[tuple[int, str, Callable[[sa.Connection], None]]] = [
    (1, "sessions, messages and tts_models", _initial),
    (2, "index sessions by creation time (listing)", _sessions_by_time),
    (3, "idempotency keys of turns and session creation", _idempotency_keys),
    (4, "sessions have an owner (existing ones: anonymous)", _owners),
    (5, "turn leases: one turn at a time per session, across workers", _turn_leases),
    (6, "messages keep the tool calls of a reply", _tool_calls),
]
LATEST = MIGRATIONS[-1][0]


def _apply(conn: sa.Connection, target: int = LATEST) -> list[int]:
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(7413001)"))
    migrations_table.create(conn, checkfirst=True)
    done = set(conn.scalars(sa.select(migrations_table.c.version)))
    applied = []
    for version, name, step in MIGRATIONS:
        if version in done or version > target:
            continue
        step(conn)
        conn.execute(
            migrations_table.insert().values(version=version, name=name, applied_at=time.time())
        )
        applied.append(version)
    return applied


async def migrate(engine: AsyncEngine, target: int = LATEST) -> list[int]:
    """Bring the database to version `target` (the latest); the versions applied now."""
    async with _sqlite_file_lock(engine), engine.begin() as conn:
        return await conn.run_sync(_apply, target)


@asynccontextmanager
async def _sqlite_file_lock(engine: AsyncEngine) -> AsyncIterator[None]:
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    handle = await asyncio.to_thread(_lock, Path(f"{database}.migrate-lock"))
    try:
        yield
    finally:
        handle.close()  # releases the lock


def _lock(path: Path) -> IO[str]:
    handle = path.open("a")
    try:
        import fcntl

        fcntl.flock(handle, fcntl.LOCK_EX)
    except ImportError:  # not POSIX: one process per SQLite file is the rule there
        pass
    return handle


async def current_version(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        value = await conn.scalar(sa.select(sa.func.max(migrations_table.c.version)))
    return int(value or 0)
