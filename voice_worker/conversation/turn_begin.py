"""Beginning a turn: everything that can be refused before anything is said.

`TurnStarter` finds the session (SessionManager.get: another user's is NotFound, as a
missing one), checks the input (what the user types follows the text rule of
shared.speakable), refuses an unknown analyst role, and with an Idempotency-Key claims
it (a repeat gets the stored turn to replay). A spoken turn begins in two steps, `hear`
(speech to text) and `heard`, so a transport that listens continuously may transcribe
early and discard it (`audio` does both)."""

from __future__ import annotations

import contextlib

from shared.logs import Stopwatch
from shared.speakable import TextRejected, check_characters
from voice_worker.auth.principal import Principal
from voice_worker.chat.settings import ChatSettings
from voice_worker.conversation.idempotency import Held, IdempotencyKeys, fingerprint, scoped_key
from voice_worker.conversation.prompt import persona
from voice_worker.conversation.replay import turn_from_record
from voice_worker.conversation.sessions import SessionManager
from voice_worker.conversation.turn import Heard, Turn, TurnOptions, TurnResult, call_provider
from voice_worker.errors import InvalidRequest
from voice_worker.store.base import ChatStore, NewMessage, SessionRecord
from voice_worker.stt.base import STTProvider, TranscriptionOptions


class TurnStarter:
    def __init__(
        self,
        store: ChatStore,
        settings: ChatSettings,
        stt: STTProvider | None = None,
        keys: IdempotencyKeys | None = None,
    ) -> None:
        self.sessions = SessionManager(store, settings)  # only its `get` is needed here
        self.settings = settings
        self.stt = stt
        self.keys = keys

    def check_text(self, text: str, param: str = "text") -> str:
        """What a user typed, stripped; InvalidRequest when it cannot be a turn."""
        text = (text or "").strip()
        if not text:
            raise InvalidRequest("the text is empty", param=param)
        most = self.settings.max_input_chars
        if len(text) > most:
            raise InvalidRequest(
                f"the text is {len(text)} characters; at most {most}",
                param=param,
                code="string_above_max_length",
            )
        try:
            check_characters(text)
        except TextRejected as exc:
            raise InvalidRequest(exc.message, param=param, code="invalid_character") from None
        return text

    async def text(
        self,
        session: str | SessionRecord,
        text: str,
        principal: Principal,
        key: str | None = None,
        options: TurnOptions | None = None,
    ) -> Turn:
        record = await self.sessions.get(principal, session)
        user = NewMessage("user", self.check_text(text))
        role = self._role(record)
        held = await self._claim(principal, key, "text", record.id, user.text)
        if isinstance(held, TurnResult):
            return Turn(record, user, role, replay=held)
        return Turn(record, user, role, options=options or TurnOptions(), held=held)

    async def audio(
        self,
        session: str | SessionRecord,
        audio: bytes,
        principal: Principal,
        key: str | None = None,
        options: TurnOptions | None = None,
    ) -> Turn:
        record = await self.sessions.get(principal, session)
        self._check_audio(audio)
        role = self._role(record)  # an unknown role: refused before the audio is transcribed
        held = await self._claim(principal, key, "audio", record.id, audio)
        if isinstance(held, TurnResult):
            return Turn(record, NewMessage("user", held.transcript or ""), role, replay=held)
        watch = Stopwatch()
        try:
            async with held.kept() if held else contextlib.nullcontext():
                heard = await self.hear(record, audio)
            turn = self.heard(record, heard, options, watch)
        except BaseException:
            if held is not None:
                await held.release()
            raise
        turn.held = held
        return turn

    async def hear(self, record: SessionRecord, audio: bytes, language: str | None = None) -> Heard:
        """What the user said in `audio` (an encoded file), in `language` (None: the
        session's). `record` is one the caller may use (SessionManager.get)."""
        stt = self._check_audio(audio)
        watch = Stopwatch()
        language = record.settings.language if language is None else language
        options = TranscriptionOptions(language=language or None)
        transcript = await call_provider("speech-to-text", stt.transcribe(audio, options))
        return Heard(transcript, watch.seconds)

    def heard(
        self,
        record: SessionRecord,
        heard: Heard,
        options: TurnOptions | None = None,
        watch: Stopwatch | None = None,
    ) -> Turn:
        """The turn of what `hear` heard in `record` (one the caller may use); refused
        when it heard no words."""
        role = self._role(record)
        transcript = heard.transcript
        text = transcript.text.strip()
        if not text:
            raise InvalidRequest("no speech was recognized in the audio", param="audio")
        user = NewMessage("user", text, transcript=text, audio_duration=transcript.duration or None)
        timings = {"stt": heard.seconds}
        return Turn(record, user, role, watch or Stopwatch(), timings, options or TurnOptions())

    def _check_audio(self, audio: bytes) -> STTProvider:
        if self.stt is None:
            raise InvalidRequest("this worker has no speech-to-text provider configured")
        if not audio:
            raise InvalidRequest("the audio file is empty", param="audio")
        return self.stt

    async def _claim(
        self, principal: Principal, key: str | None, *request: str | bytes
    ) -> Held | TurnResult | None:
        """With an Idempotency-Key (the caller's own): the key held for this turn, or
        the stored turn."""
        if key is None or self.keys is None:
            return None
        scoped = scoped_key(principal.user, key)
        claimed = await self.keys.claim(scoped, fingerprint("turn", *request))
        return claimed if isinstance(claimed, Held) else turn_from_record(claimed)

    def _role(self, record: SessionRecord) -> str:
        role = record.settings.analyst_role or self.settings.default_role
        persona(self.settings, role)  # unknown role: 400 before any work
        return role
