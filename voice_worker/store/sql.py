"""`SqlStore`: the ChatStore on SQLAlchemy Core (async), for SQLite and PostgreSQL.

Why SQLAlchemy Core rather than two hand-written repositories: the schema and every
query are written once and compiled per dialect (the JSON columns, autoincrement ids,
the placeholder style), so SQLite and PostgreSQL cannot drift apart, and the one test
suite that runs on both covers one code path. Core, not the ORM: the records are small
immutable dataclasses and each call is one or two statements, so an identity map and
lazy loading would add cost and surprise and nothing else. The drivers are aiosqlite
(the embedded default: one file, WAL journal so that readers never block the writer)
and asyncpg. Dialect differences live in `engine` (URL, pragmas, pool) and in
`migrations` (the advisory lock); a turn's two messages are one `engine.begin()`.
A database that cannot be reached (down, restarting, its connection lost mid-call) is
StoreUnavailable (503 with Retry-After): the transaction did not commit, and the pool
reconnects (pre-ping) once the database is back."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from voice_worker.errors import StoreUnavailable
from voice_worker.store import keys
from voice_worker.store import migrations as m
from voice_worker.store.base import (
    ANONYMOUS_OWNER,
    KeyClaim,
    KeyReceipt,
    MessageRecord,
    NewMessage,
    Page,
    SessionLocks,
    SessionRecord,
    SessionSettings,
    TTSModelRecord,
    TurnLeaseLost,
)
from voice_worker.store.cursors import decode_session_cursor, encode_session_cursor
from voice_worker.store.engine import make_engine
from voice_worker.store.session_locks import AdvisoryLocks


async def open_store(url: str, pool_size: int = 5, echo: bool = False) -> SqlStore:
    """Connect, migrate to the latest schema, and return the store."""
    engine = make_engine(url, pool_size, echo)
    await m.migrate(engine)
    return SqlStore(engine)


#: what a database that is down, restarting, unreachable or out of connections raises
UNREACHABLE = (
    OSError,
    asyncio.TimeoutError,
    sa.exc.TimeoutError,  # no pooled connection free in time
    sa.exc.OperationalError,
    sa.exc.InterfaceError,
)


#: SQLSTATE classes of a database that cannot serve now: connection exceptions (08),
#: operator intervention (57P: shutting down, starting up), insufficient resources (53)
UNAVAILABLE_STATES = ("08", "57P", "53")


def _is_unavailable(exc: sa.exc.DBAPIError) -> bool:
    state = getattr(exc.orig, "sqlstate", None)
    return exc.connection_invalidated or (
        isinstance(state, str) and state.startswith(UNAVAILABLE_STATES)
    )


def _unavailable(exc: BaseException) -> StoreUnavailable:
    first_line = (str(exc).splitlines() or [""])[0][:200]
    return StoreUnavailable(f"{type(exc).__name__}: {first_line}")


@contextmanager
def _unavailable_as_store_error() -> Iterator[None]:
    """A database that cannot serve now raises StoreUnavailable; other errors pass."""
    try:
        yield
    except UNREACHABLE as exc:
        raise _unavailable(exc) from exc
    except sa.exc.DBAPIError as exc:
        if _is_unavailable(exc):
            raise _unavailable(exc) from exc
        raise


class SqlStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self._purged_at = 0.0
        self.advisory = AdvisoryLocks(engine) if self.dialect == "postgresql" else None
        self.session_locks: SessionLocks | None = self.advisory

    @asynccontextmanager
    async def _connect(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads; an unreachable database is StoreUnavailable."""
        with _unavailable_as_store_error():
            async with self.engine.connect() as conn:
                yield conn

    @asynccontextmanager
    async def _begin(self) -> AsyncIterator[AsyncConnection]:
        """A transaction, committed at the end of the block (nothing of it otherwise)."""
        with _unavailable_as_store_error():
            async with self.engine.begin() as conn:
                yield conn

    async def ping(self) -> None:
        async with self._connect() as conn:
            await conn.execute(sa.text("SELECT 1"))

    async def create_session(
        self,
        settings: SessionSettings,
        title: str = "",
        owner: str = ANONYMOUS_OWNER,
        receipt: KeyReceipt | None = None,
    ) -> SessionRecord:
        now = time.time()
        record = SessionRecord(uuid.uuid4().hex, title, settings, now, now, owner)
        values = {
            "id": record.id,
            "title": title,
            "settings": settings.model_dump(mode="json"),
            "created_at": now,
            "updated_at": now,
            "owner": owner,
        }
        async with self._begin() as conn:
            await conn.execute(m.sessions.insert().values(**values))
            if receipt is not None:
                await keys.finish(conn, receipt, values)
        return record

    async def get_session(self, session_id: str, owner: str | None = None) -> SessionRecord | None:
        query = _owned(m.sessions.select().where(m.sessions.c.id == session_id), owner)
        async with self._connect() as conn:
            row = (await conn.execute(query)).first()
        return _session(row) if row else None

    async def list_sessions(
        self, limit: int = 50, cursor: str | None = None, owner: str | None = None
    ) -> Page[SessionRecord]:
        query = m.sessions.select().order_by(m.sessions.c.created_at.desc(), m.sessions.c.id.desc())
        query = _owned(query, owner)
        if cursor:
            created, last_id = decode_session_cursor(cursor)
            query = query.where(
                sa.tuple_(m.sessions.c.created_at, m.sessions.c.id) < sa.tuple_(created, last_id)
            )
        async with self._connect() as conn:
            rows = (await conn.execute(query.limit(limit + 1))).all()
        items = [_session(r) for r in rows[:limit]]
        more = len(rows) > limit
        last = items[-1] if items else None
        return Page(
            items, encode_session_cursor(last.created_at, last.id) if more and last else None
        )

    async def update_session(
        self,
        session_id: str,
        settings: SessionSettings,
        title: str | None = None,
        owner: str | None = None,
    ) -> SessionRecord | None:
        values: dict[str, Any] = {
            "settings": settings.model_dump(mode="json"),
            "updated_at": time.time(),
        }
        if title is not None:
            values["title"] = title
        async with self._begin() as conn:
            update = m.sessions.update().where(m.sessions.c.id == session_id)
            result = await conn.execute(_owned(update, owner).values(**values))
        return await self.get_session(session_id) if result.rowcount else None

    async def delete_session(self, session_id: str, owner: str | None = None) -> bool:
        async with self._begin() as conn:
            found = _owned(sa.select(m.sessions.c.id).where(m.sessions.c.id == session_id), owner)
            if (await conn.execute(found)).first() is None:
                return False
            for table in (m.messages, m.turn_leases):
                await conn.execute(table.delete().where(table.c.session_id == session_id))
            result = await conn.execute(m.sessions.delete().where(m.sessions.c.id == session_id))
        return bool(result.rowcount)

    # -- one turn at a time per session, across workers ------------------------------
    async def acquire_turn(
        self, session_id: str, token: str, seconds: float, force: bool = False
    ) -> bool:
        now = time.time()
        leases = m.turn_leases
        stale = leases.c.expires_at < now
        try:
            async with self._begin() as conn:
                await conn.execute(
                    leases.delete().where(
                        leases.c.session_id == session_id, sa.true() if force else stale
                    )
                )
                await conn.execute(
                    leases.insert().values(
                        session_id=session_id, token=token, expires_at=now + seconds
                    )
                )
        except sa.exc.IntegrityError:  # held by another turn, or no such session
            if await self.get_session(session_id) is None:
                raise LookupError(f"no voice chat session {session_id!r}") from None
            return False
        return True

    async def renew_turn(self, session_id: str, token: str, seconds: float) -> bool:
        leases = m.turn_leases
        async with self._begin() as conn:
            result = await conn.execute(
                leases.update()
                .where(leases.c.session_id == session_id, leases.c.token == token)
                .values(expires_at=time.time() + seconds)
            )
        return bool(result.rowcount)

    async def release_turn(self, session_id: str, token: str) -> None:
        leases = m.turn_leases
        async with self._begin() as conn:
            await conn.execute(
                leases.delete().where(leases.c.session_id == session_id, leases.c.token == token)
            )

    async def add_turn(
        self,
        session_id: str,
        user: NewMessage,
        assistant: NewMessage,
        receipt: KeyReceipt | None = None,
        lease: str | None = None,
    ) -> tuple[MessageRecord, MessageRecord]:
        now = time.time()
        rows = [_message_values(session_id, message, now) for message in (user, assistant)]
        insert = m.messages.insert().returning(m.messages.c.id, sort_by_parameter_order=True)
        leases = m.turn_leases
        try:
            async with self._begin() as conn:  # one statement for both, one transaction
                if lease is not None:  # the fence: only the turn that holds the lease writes
                    held = await conn.execute(
                        leases.delete().where(
                            leases.c.session_id == session_id, leases.c.token == lease
                        )
                    )
                    if not held.rowcount:
                        exists = sa.select(m.sessions.c.id).where(m.sessions.c.id == session_id)
                        if (await conn.execute(exists)).first() is None:  # deleted meanwhile
                            raise LookupError(f"no voice chat session {session_id!r}")
                        raise TurnLeaseLost(f"the turn lease of session {session_id!r} was lost")
                ids = (await conn.execute(insert, rows)).scalars().all()
                await conn.execute(
                    m.sessions.update().where(m.sessions.c.id == session_id).values(updated_at=now)
                )
                if receipt is not None:
                    ids_ = {"user_message_id": int(ids[0]), "assistant_message_id": int(ids[1])}
                    await keys.finish(conn, receipt, ids_)
        except sa.exc.IntegrityError:
            if await self.get_session(session_id) is None:  # deleted meanwhile
                raise LookupError(f"no voice chat session {session_id!r}") from None
            raise
        first, second = (MessageRecord(id=int(i), **row) for i, row in zip(ids, rows, strict=True))
        return first, second

    async def update_reply(
        self, session_id: str, message_id: int, text: str, audio_duration: float
    ) -> bool:
        c = m.messages.c
        query = (
            m.messages.update()
            .where(c.id == message_id, c.session_id == session_id, c.role == "assistant")
            .values(text=text, audio_duration=audio_duration)
        )
        async with self.engine.begin() as conn:
            result = await conn.execute(query)
        return bool(result.rowcount)

    async def list_messages(
        self, session_id: str, limit: int = 50, cursor: str | None = None
    ) -> Page[MessageRecord]:
        query = m.messages.select().where(m.messages.c.session_id == session_id)
        if cursor:
            query = query.where(m.messages.c.id > _int_cursor(cursor))
        async with self._connect() as conn:
            rows = (await conn.execute(query.order_by(m.messages.c.id).limit(limit + 1))).all()
        items = [_message(r) for r in rows[:limit]]
        return Page(items, str(items[-1].id) if len(rows) > limit else None)

    async def count_messages(self, session_id: str) -> int:
        query = sa.select(sa.func.count()).where(m.messages.c.session_id == session_id)
        async with self._connect() as conn:
            return int(await conn.scalar(query) or 0)

    async def recent_messages(self, session_id: str, limit: int) -> list[MessageRecord]:
        if limit <= 0:
            return []
        query = m.messages.select().where(m.messages.c.session_id == session_id)
        async with self._connect() as conn:
            rows = (await conn.execute(query.order_by(m.messages.c.id.desc()).limit(limit))).all()
        return [_message(r) for r in reversed(rows)]

    async def replace_tts_models(self, models: Sequence[TTSModelRecord]) -> None:
        now = time.time()
        async with self._begin() as conn:
            await conn.execute(m.tts_models.delete())
            if models:
                rows = [{**vars(model), "synced_at": now} for model in models]
                await conn.execute(m.tts_models.insert(), rows)

    async def list_tts_models(self) -> list[TTSModelRecord]:
        async with self._connect() as conn:
            rows = (await conn.execute(m.tts_models.select().order_by(m.tts_models.c.name))).all()
        return [TTSModelRecord(**r._mapping) for r in rows]

    async def claim_key(
        self,
        key: str,
        fingerprint: str,
        lease_seconds: float,
        ttl_seconds: float,
        force: bool = False,
    ) -> KeyClaim:
        await self._purge_keys()
        for _ in range(3):  # a row that vanishes between insert and read: try again
            try:
                async with self._begin() as conn:
                    return await keys.insert(conn, key, fingerprint, lease_seconds, ttl_seconds)
            except sa.exc.IntegrityError:
                pass
            async with self._begin() as conn:
                claim = await keys.decide(conn, key, fingerprint, lease_seconds, ttl_seconds, force)
            if claim is not None:
                return claim
        return KeyClaim("running")

    async def renew_key(self, key: str, owner: str, lease_seconds: float) -> bool:
        async with self._begin() as conn:
            return await keys.renew(conn, key, owner, lease_seconds)

    async def release_key(self, key: str, owner: str) -> None:
        async with self._begin() as conn:
            await keys.release(conn, key, owner)

    async def _purge_keys(self) -> None:
        if time.monotonic() - self._purged_at < keys.PURGE_EVERY_SECONDS:
            return
        self._purged_at = time.monotonic()
        async with self._begin() as conn:
            await keys.purge(conn)

    async def close(self) -> None:
        if self.advisory is not None:
            await self.advisory.close()
        await self.engine.dispose()


Owned = TypeVar("Owned", sa.Select[Any], sa.Update)


def _owned(query: Owned, owner: str | None) -> Owned:
    """`query` restricted to `owner`'s sessions (None: every owner's)."""
    return query if owner is None else query.where(m.sessions.c.owner == owner)


def _session(row: sa.Row[Any]) -> SessionRecord:
    settings = SessionSettings.model_validate(row.settings)
    return SessionRecord(row.id, row.title, settings, row.created_at, row.updated_at, row.owner)


def _message_values(session_id: str, message: NewMessage, now: float) -> dict[str, Any]:
    return {**vars(message), "session_id": session_id, "created_at": now}


def _message(row: sa.Row[Any]) -> MessageRecord:
    return MessageRecord(**{**row._mapping, "tool_calls": row.tool_calls or []})  # NULL: before 6


def _int_cursor(cursor: str) -> int:
    try:
        return int(cursor)
    except ValueError:
        raise ValueError(f"invalid cursor {cursor!r}") from None
