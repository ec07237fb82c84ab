"""`SessionManager`: session operations as the transports call them, each for a
`Principal`: a user reaches only their own sessions (an admin, every one), and another
user's session answers NotFound exactly as a missing one, so an id says nothing about
whether it exists (OWASP API1). Each validates, raises the worker's domain errors
(NotFound for an unknown session, InvalidRequest for a bad setting or cursor) and
returns records."""

from __future__ import annotations

from pydantic import ValidationError

from voice_worker.auth.principal import Principal
from voice_worker.chat.settings import ChatSettings
from voice_worker.conversation.idempotency import Held, IdempotencyKeys, fingerprint, scoped_key
from voice_worker.conversation.prompt import persona
from voice_worker.errors import InvalidRequest, NotFound
from voice_worker.speech.cached_speech import CachedSpeech
from voice_worker.store.base import ChatStore, MessageRecord, Page, SessionRecord, SessionSettings

MAX_PAGE = 200


def not_found(session_id: str) -> NotFound:
    """The one answer for a session that is missing or not the caller's."""
    return NotFound(f"no voice chat session {session_id!r}", param="session_id")


class SessionManager:
    def __init__(
        self,
        store: ChatStore,
        chat_settings: ChatSettings,
        keys: IdempotencyKeys | None = None,
        speech: CachedSpeech | None = None,
    ) -> None:
        self.store = store
        self.chat_settings = chat_settings
        self.keys = keys
        self.speech = speech

    def _check(self, settings: SessionSettings) -> None:
        persona(self.chat_settings, settings.analyst_role)  # unknown role: 400
        choices = self.speech.choices if self.speech is not None else None
        if choices is not None:  # a voice or model the provider does not offer: 400
            try:
                choices.check(settings.voice, settings.tts_model)
            except InvalidRequest as exc:
                exc.param = {"model": "tts_model"}.get(exc.param or "", exc.param)
                raise

    async def create(
        self, principal: Principal, settings: SessionSettings, title: str = ""
    ) -> SessionRecord:
        self._check(settings)
        return await self.store.create_session(settings, title, owner=principal.user)

    async def create_once(
        self, principal: Principal, settings: SessionSettings, title: str, key: str | None
    ) -> tuple[SessionRecord, bool]:
        """`create` under an Idempotency-Key (the caller's own: keys are scoped to the
        user): (the session, whether it was created by an earlier request with this key
        and is returned again)."""
        if key is None or self.keys is None:
            return await self.create(principal, settings, title), False
        self._check(settings)
        request = fingerprint("session", settings.model_dump_json(), title)
        claimed = await self.keys.claim(scoped_key(principal.user, key), request)
        if not isinstance(claimed, Held):
            found = await self.store.get_session(claimed["id"], owner=principal.owner_filter)
            if found is None:
                raise NotFound(
                    f"the session created with this Idempotency-Key ({claimed['id']!r}) "
                    "was deleted since",
                    param="Idempotency-Key",
                    code="session_deleted",
                )
            return found, True
        try:
            receipt = claimed.receipt({})
            record = await self.store.create_session(
                settings, title, owner=principal.user, receipt=receipt
            )
        except BaseException:
            await claimed.release()
            raise
        await claimed.done()
        return record, False

    async def get(self, principal: Principal, session: str | SessionRecord) -> SessionRecord:
        """The session, if `principal` may use it; NotFound as for a missing one. The
        one way to a session, whatever the transport: a record already read (a
        transport holds one for its connection) is checked the same way, not read again."""
        if isinstance(session, SessionRecord):
            if not principal.sees(session.owner):
                raise not_found(session.id)
            return session
        record = await self.store.get_session(session, owner=principal.owner_filter)
        if record is None:
            raise not_found(session)
        return record

    async def list(
        self, principal: Principal, limit: int = 50, cursor: str | None = None
    ) -> Page[SessionRecord]:
        try:
            return await self.store.list_sessions(
                _limit(limit), cursor, owner=principal.owner_filter
            )
        except ValueError as exc:
            raise InvalidRequest(str(exc), param="cursor") from None

    async def update(
        self,
        principal: Principal,
        session_id: str,
        changes: dict[str, object],
        title: str | None = None,
    ) -> SessionRecord:
        current = await self.get(principal, session_id)
        try:
            merged = SessionSettings.model_validate({**current.settings.model_dump(), **changes})
        except ValidationError as exc:
            raise InvalidRequest(f"invalid settings: {exc.errors()[0]['msg']}") from None
        self._check(merged)
        updated = await self.store.update_session(
            session_id, merged, title, owner=principal.owner_filter
        )
        if updated is None:  # deleted meanwhile
            raise not_found(session_id)
        return updated

    async def delete(self, principal: Principal, session_id: str) -> None:
        if not await self.store.delete_session(session_id, owner=principal.owner_filter):
            raise not_found(session_id)

    async def messages(
        self, principal: Principal, session_id: str, limit: int = 50, cursor: str | None = None
    ) -> Page[MessageRecord]:
        await self.get(principal, session_id)
        try:
            return await self.store.list_messages(session_id, _limit(limit), cursor)
        except ValueError as exc:
            raise InvalidRequest(str(exc), param="cursor") from None


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidRequest(f"limit must be 1 to {MAX_PAGE}", param="limit")
    return limit
