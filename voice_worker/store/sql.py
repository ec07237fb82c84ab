"""`SqlStore`: the ChatStore on SQLAlchemy Core (async), for SQLite and PostgreSQL.

Why SQLAlchemy Core rather than two hand-written repositories: the schema and every
query are written once and compiled per dialect (the JSON columns, autoincrement ids,
the placeholder style), so SQLite and PostgreSQL cannot drift apart, and the one test
suite that runs on both covers one code path. Core, not the ORM: the records are small
immutable dataclasses and each call is one or two statements, so an identity map and
lazy loading would add cost and surprise and nothing else. The drivers are aiosqlite
(the embedded default: one file, WAL journal so that readers never block the writer)
and asyncpg. Dialect differences live in `engine` (URL, pragmas, pool) and in
`migrations` (the advisory lock); a turn's two messages are one `engine.begin()`."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from voice_worker.store import migrations as m
from voice_worker.store.base import (
    MessageRecord,
    NewMessage,
    Page,
    SessionRecord,
    SessionSettings,
    TTSModelRecord,
)
from voice_worker.store.cursors import decode_session_cursor, encode_session_cursor
from voice_worker.store.engine import make_engine


async def open_store(url: str, pool_size: int = 5, echo: bool = False) -> SqlStore:
    """Connect, migrate to the latest schema, and return the store."""
    engine = make_engine(url, pool_size, echo)
    await m.migrate(engine)
    return SqlStore(engine)


class SqlStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))

    async def create_session(self, settings: SessionSettings, title: str = "") -> SessionRecord:
        now = time.time()
        record = SessionRecord(uuid.uuid4().hex, title, settings, now, now)
        async with self.engine.begin() as conn:
            await conn.execute(
                m.sessions.insert().values(
                    id=record.id,
                    title=title,
                    settings=settings.model_dump(mode="json"),
                    created_at=now,
                    updated_at=now,
                )
            )
        return record

    async def get_session(self, session_id: str) -> SessionRecord | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(m.sessions.select().where(m.sessions.c.id == session_id))
            ).first()
        return _session(row) if row else None

    async def list_sessions(
        self, limit: int = 50, cursor: str | None = None
    ) -> Page[SessionRecord]:
        query = m.sessions.select().order_by(m.sessions.c.created_at.desc(), m.sessions.c.id.desc())
        if cursor:
            created, last_id = decode_session_cursor(cursor)
            query = query.where(
                sa.tuple_(m.sessions.c.created_at, m.sessions.c.id) < sa.tuple_(created, last_id)
            )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query.limit(limit + 1))).all()
        items = [_session(r) for r in rows[:limit]]
        more = len(rows) > limit
        last = items[-1] if items else None
        return Page(
            items, encode_session_cursor(last.created_at, last.id) if more and last else None
        )

    async def update_session(
        self, session_id: str, settings: SessionSettings, title: str | None = None
    ) -> SessionRecord | None:
        values: dict[str, Any] = {
            "settings": settings.model_dump(mode="json"),
            "updated_at": time.time(),
        }
        if title is not None:
            values["title"] = title
        async with self.engine.begin() as conn:
            result = await conn.execute(
                m.sessions.update().where(m.sessions.c.id == session_id).values(**values)
            )
        return await self.get_session(session_id) if result.rowcount else None

    async def delete_session(self, session_id: str) -> bool:
        async with self.engine.begin() as conn:
            await conn.execute(m.messages.delete().where(m.messages.c.session_id == session_id))
            result = await conn.execute(m.sessions.delete().where(m.sessions.c.id == session_id))
        return bool(result.rowcount)

    async def add_turn(
        self, session_id: str, user: NewMessage, assistant: NewMessage
    ) -> tuple[MessageRecord, MessageRecord]:
        now = time.time()
        rows = [_message_values(session_id, message, now) for message in (user, assistant)]
        insert = m.messages.insert().returning(m.messages.c.id, sort_by_parameter_order=True)
        try:
            async with self.engine.begin() as conn:  # one statement for both, one transaction
                ids = (await conn.execute(insert, rows)).scalars().all()
                await conn.execute(
                    m.sessions.update().where(m.sessions.c.id == session_id).values(updated_at=now)
                )
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
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query.order_by(m.messages.c.id).limit(limit + 1))).all()
        items = [_message(r) for r in rows[:limit]]
        return Page(items, str(items[-1].id) if len(rows) > limit else None)

    async def count_messages(self, session_id: str) -> int:
        query = sa.select(sa.func.count()).where(m.messages.c.session_id == session_id)
        async with self.engine.connect() as conn:
            return int(await conn.scalar(query) or 0)

    async def recent_messages(self, session_id: str, limit: int) -> list[MessageRecord]:
        if limit <= 0:
            return []
        query = m.messages.select().where(m.messages.c.session_id == session_id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query.order_by(m.messages.c.id.desc()).limit(limit))).all()
        return [_message(r) for r in reversed(rows)]

    async def replace_tts_models(self, models: Sequence[TTSModelRecord]) -> None:
        now = time.time()
        async with self.engine.begin() as conn:
            await conn.execute(m.tts_models.delete())
            if models:
                rows = [{**vars(model), "synced_at": now} for model in models]
                await conn.execute(m.tts_models.insert(), rows)

    async def list_tts_models(self) -> list[TTSModelRecord]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(m.tts_models.select().order_by(m.tts_models.c.name))).all()
        return [TTSModelRecord(**r._mapping) for r in rows]

    async def close(self) -> None:
        await self.engine.dispose()


def _session(row: sa.Row[Any]) -> SessionRecord:
    settings = SessionSettings.model_validate(row.settings)
    return SessionRecord(row.id, row.title, settings, row.created_at, row.updated_at)


def _message_values(session_id: str, message: NewMessage, now: float) -> dict[str, Any]:
    return {**vars(message), "session_id": session_id, "created_at": now}


def _message(row: sa.Row[Any]) -> MessageRecord:
    return MessageRecord(**row._mapping)


def _int_cursor(cursor: str) -> int:
    try:
        return int(cursor)
    except ValueError:
        raise ValueError(f"invalid cursor {cursor!r}") from None
