"""`VoiceChatEngine`: one turn of a voice conversation, spoken while it is written.

A turn starts (`begin_text`, `begin_audio`: the session found, the input checked, speech
transcribed) and then runs (`run`): the chat model writes the reply while the voice
speaks it, sentence by sentence (conversation.pipeline), reporting events as they
happen (conversation.events). The turn is stored only once the reply is complete and
spoken, its two messages in one transaction, so a failure anywhere (chat, synthesis, a
client that leaves, the process dying) leaves no half turn. Thinking is stored with the
reply, returned apart, never spoken. What the user types follows the text rule of
shared.speakable; what the model answers is cleaned of control characters before it is
spoken. `process_text_only` and `process_message` run the same pipeline and return the
whole turn at once. Errors are the worker's domain errors (voice_worker.errors).

Every turn is for a `Principal`: a session that is not the caller's is NotFound, exactly
as a missing one (`session()`), whatever the transport. One turn of a session runs at a
time across every worker (conversation.turn_lock), from reading its history to storing
it. User text and history reach the chat provider as plain content: each provider keeps
it from becoming template control tokens (chat.control, chat.local_prompt).

A spoken turn begins in two steps, `hear` (speech to text) and `begin_heard`, so a
transport that listens continuously may transcribe early and discard it
(`begin_audio` does both). A turn may differ from its session (`TurnOptions`: another
persona, another output format). A reply the user interrupts is stored as far as it was
heard (`store_interrupted`, then `truncate_reply` once the player says where it
stopped): the history the model reads next is what the user heard."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Protocol

from shared.logs import Stopwatch
from shared.speakable import TextRejected, check_characters
from voice_worker.auth.principal import Principal
from voice_worker.chat.base import (
    ChatEnd,
    ChatEvent,
    ChatOptions,
    ChatProvider,
    ChatReply,
    TextDelta,
)
from voice_worker.chat.base import ThinkingDelta as ChatThinking
from voice_worker.chat.cache import ResponseCache
from voice_worker.chat.settings import ChatSettings
from voice_worker.conversation.adapters import audio_info
from voice_worker.conversation.events import (
    AudioDelta,
    ReplyDelta,
    ThinkingDelta,
    Transcribed,
    TurnDone,
    TurnEvent,
)
from voice_worker.conversation.idempotency import (
    Held,
    IdempotencyKeys,
    fingerprint,
    replay,
    scoped_key,
    turn_from_record,
    turn_record,
)
from voice_worker.conversation.pipeline import speak_while_writing
from voice_worker.conversation.prompt import build_prompt, persona, window_step
from voice_worker.conversation.reply_stream import replayed, speakable_only
from voice_worker.conversation.sessions import not_found
from voice_worker.conversation.turn import (
    Heard,
    Turn,
    TurnOptions,
    TurnResult,
    call_provider,
    guarded,
    speech_options,
)
from voice_worker.conversation.turn_lock import TurnLocks
from voice_worker.conversation.turn_store import store_turn
from voice_worker.errors import InvalidRequest, NotFound
from voice_worker.observability import metrics
from voice_worker.store.base import (
    ChatStore,
    MessageRecord,
    NewMessage,
    SessionRecord,
)
from voice_worker.stt.base import STTProvider, TranscriptionOptions
from voice_worker.tts.base import SpeechOptions, SpeechPiece

log = logging.getLogger(__name__)
CHAT, SPEECH = "chat", "text-to-speech"


class Speaker(Protocol):
    """How the engine speaks (conversation.adapters.TurnSpeech)."""

    def stream_text(
        self, texts: AsyncIterator[str], options: SpeechOptions
    ) -> AsyncGenerator[SpeechPiece, None]: ...

    def speak_known(
        self, text: str, options: SpeechOptions
    ) -> AsyncGenerator[SpeechPiece, None]: ...


class VoiceChatEngine:
    def __init__(
        self,
        store: ChatStore,
        chat: ChatProvider,
        tts: Speaker,
        settings: ChatSettings,
        stt: STTProvider | None = None,
        response_cache: ResponseCache | None = None,
        keys: IdempotencyKeys | None = None,
    ) -> None:
        self.store, self.chat, self.tts, self.stt = store, chat, tts, stt
        self.settings = settings
        self.response_cache = response_cache
        self.keys = keys
        self.max_text_chars = settings.max_input_chars
        self.turn_locks = TurnLocks(store, settings.turn_lease_seconds, settings.turn_wait_seconds)

    async def session(self, session: str | SessionRecord, principal: Principal) -> SessionRecord:
        """The session, if `principal` may talk in it; NotFound as for a missing one."""
        if isinstance(session, SessionRecord):
            if not principal.sees(session.owner):
                raise not_found(session.id)
            return session
        found = await self.store.get_session(session, owner=principal.owner_filter)
        if found is None:
            raise not_found(session)
        return found

    # -- beginning a turn: everything that can be refused before anything is said --
    def check_text(self, text: str, param: str = "text") -> str:
        """What a user typed, stripped; InvalidRequest when it cannot be a turn."""
        text = (text or "").strip()
        if not text:
            raise InvalidRequest("the text is empty", param=param)
        if len(text) > self.max_text_chars:
            raise InvalidRequest(
                f"the text is {len(text)} characters; at most {self.max_text_chars}",
                param=param,
                code="string_above_max_length",
            )
        try:
            check_characters(text)
        except TextRejected as exc:
            raise InvalidRequest(exc.message, param=param, code="invalid_character") from None
        return text

    async def begin_text(
        self,
        session: str | SessionRecord,
        text: str,
        principal: Principal,
        key: str | None = None,
        options: TurnOptions | None = None,
    ) -> Turn:
        record = await self.session(session, principal)
        user = NewMessage("user", self.check_text(text))
        role = self._role(record)
        held = await self._claim(principal, key, "text", record.id, user.text)
        if isinstance(held, TurnResult):
            return Turn(record, user, role, replay=held)
        return Turn(record, user, role, options=options or TurnOptions(), held=held)

    async def begin_audio(
        self,
        session: str | SessionRecord,
        audio: bytes,
        principal: Principal,
        key: str | None = None,
        options: TurnOptions | None = None,
    ) -> Turn:
        record = await self.session(session, principal)
        self._check_audio(audio)
        role = self._role(record)  # an unknown role: refused before the audio is transcribed
        held = await self._claim(principal, key, "audio", record.id, audio)
        if isinstance(held, TurnResult):
            return Turn(record, NewMessage("user", held.transcript or ""), role, replay=held)
        watch = Stopwatch()
        try:
            async with held.kept() if held else contextlib.nullcontext():
                heard = await self.hear(record, audio)
            turn = self.begin_heard(record, heard, options, watch)
        except BaseException:
            if held is not None:
                await held.release()
            raise
        turn.held = held
        return turn

    async def hear(self, record: SessionRecord, audio: bytes, language: str | None = None) -> Heard:
        """What the user said in `audio` (an encoded file), in `language` (None: the
        session's). `record` is one the caller may use (`session`)."""
        stt = self._check_audio(audio)
        watch = Stopwatch()
        language = record.settings.language if language is None else language
        options = TranscriptionOptions(language=language or None)
        transcript = await call_provider("speech-to-text", stt.transcribe(audio, options))
        return Heard(transcript, watch.seconds)

    def _check_audio(self, audio: bytes) -> STTProvider:
        if self.stt is None:
            raise InvalidRequest("this worker has no speech-to-text provider configured")
        if not audio:
            raise InvalidRequest("the audio file is empty", param="audio")
        return self.stt

    def begin_heard(
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

    # -- running it ---------------------------------------------------------------
    async def run(self, turn: Turn) -> AsyncGenerator[TurnEvent, None]:
        """The turn's events as they happen; the last one, TurnDone, once it is stored
        (a replayed turn: its stored events at once). A turn holding an Idempotency-Key
        renews it while it runs and releases it unless the turn is stored."""
        if turn.replay is not None:
            events = replay(turn.replay)
        elif turn.held is None:
            events = self._run(turn)
        else:
            events = turn.held.kept_until_stored(self._run(turn))
        async with contextlib.aclosing(events):
            async for event in events:
                yield event

    async def _run(self, turn: Turn) -> AsyncGenerator[TurnEvent, None]:
        record, user, timings, watch = turn.session, turn.user, turn.timings, turn.watch
        # one turn of a session at a time, across workers: from its history to its storage
        async with self.turn_locks.hold(record.id) as lease:
            if user.transcript is not None:
                yield Transcribed(user.transcript)
            cacheable = turn.options.instructions is None  # the cache knows roles only
            known = await self._cached_reply(record, turn.role, user.text) if cacheable else None
            options = turn.options.speech(speech_options(record))
            chat = (
                replayed(known)
                if known
                else await self._ask(record, turn.role, user.text, turn.options.instructions)
            )

            def speak(texts: AsyncIterator[str]) -> AsyncGenerator[SpeechPiece, None]:
                if known is not None:
                    return guarded(SPEECH, self.tts.speak_known(known.text, options))
                return guarded(SPEECH, self.tts.stream_text(texts, options))

            reply, thinking, audio, end = [], [], bytearray(), ChatEnd()
            chat_start: float | None = None
            async with contextlib.aclosing(speak_while_writing(chat, speak)) as events:
                async for event in events:
                    if isinstance(event, TextDelta | ChatThinking):
                        timings.setdefault("chat_first_token", watch.seconds)
                    if isinstance(event, TextDelta):
                        chat_start = watch.seconds if chat_start is None else chat_start
                        reply.append(event.text)
                        yield ReplyDelta(event.text)
                    elif isinstance(event, ChatThinking):
                        thinking.append(event.text)
                        yield ThinkingDelta(event.text)
                    elif isinstance(event, ChatEnd):
                        end, timings["chat"] = event, watch.seconds
                    elif event.audio or event.text:
                        if event.audio and "first_audio" not in timings:
                            timings["first_audio"] = watch.seconds
                            timings["tts_first_audio"] = watch.seconds - (chat_start or 0.0)
                        audio += event.audio
                        yield AudioDelta(event.audio, event.text, event.text_start)
            timings["tts"] = watch.seconds - (chat_start or 0.0)
            text, thought = "".join(reply).strip(), "".join(thinking).strip()
            rate, seconds = await audio_info(bytes(audio), options)
            stage = Stopwatch()
            assistant = NewMessage(
                "assistant",
                text,
                thinking=thought,
                audio_format=options.format.value,
                audio_duration=seconds,
                timings=timings,
            )
            receipt = None
            if turn.held is not None:  # the key done with the turn, in its transaction
                whole = TurnResult(record.id, user.transcript, text, thought, bytes(audio),
                                   options.format.value, rate, seconds, dict(timings), 0, 0,
                                   known is not None, end.usage)  # fmt: skip
                receipt = turn.held.receipt(turn_record(whole))
            user_row, assistant_row = await store_turn(
                self.store, record.id, user, assistant, receipt, lease
            )
            timings["store"] = stage.seconds
            timings["total"] = watch.seconds
        if self.response_cache is not None and known is None and cacheable:
            await self.response_cache.set(
                record.id, user.text, turn.role, ChatReply(text, thought, end.model)
            )
        log.info("voice turn", extra={"session_id": record.id, "timings": timings})
        metrics.observe_turn(timings, spoken=user.transcript is not None, cached=known is not None)
        result = TurnResult(
            record.id,
            user.transcript,
            text,
            thought,
            b"",
            options.format.value,
            rate,
            seconds,
            timings,
            user_row.id,
            assistant_row.id,
            known is not None,
            end.usage,
        )
        yield TurnDone(result)

    async def _cached_reply(self, record: SessionRecord, role: str, text: str) -> ChatReply | None:
        if self.response_cache is None:
            return None
        return await self.response_cache.get(record.id, text, role)

    async def _ask(
        self, record: SessionRecord, role: str, text: str, instructions: str | None = None
    ) -> AsyncGenerator[ChatEvent, None]:
        budget = self.settings.history_max_messages
        total = await self.store.count_messages(record.id) if budget else 0
        history = await self.store.recent_messages(record.id, budget + window_step(budget))
        messages = build_prompt(self.settings, role, history, text, total, instructions)
        options = ChatOptions(self.settings.max_tokens, self.settings.temperature)
        return speakable_only(guarded(CHAT, self.chat.stream(messages, options)), self.chat.name)

    # -- a reply the user interrupted -----------------------------------------------
    async def store_interrupted(
        self, turn: Turn, heard: str, audio_seconds: float
    ) -> tuple[MessageRecord, MessageRecord] | None:
        """Store `turn` with the reply as far as it was heard (its `run` was closed
        part-way, which stores nothing); nothing when none of it was heard."""
        heard = heard.strip()
        if not heard:
            return None
        options = turn.options.speech(speech_options(turn.session))
        assistant = NewMessage(
            "assistant",
            heard,
            audio_format=options.format.value,
            audio_duration=audio_seconds,
            timings={**turn.timings, "interrupted": 1.0},
        )
        return await store_turn(self.store, turn.session.id, turn.user, assistant)

    async def truncate_reply(
        self, session_id: str, message_id: int, heard: str, audio_seconds: float
    ) -> None:
        """The stored reply `message_id` cut to what was heard (a player stopped it)."""
        if not await self.store.update_reply(session_id, message_id, heard.strip(), audio_seconds):
            raise NotFound(f"no reply {message_id} in session {session_id!r}", param="item_id")

    # -- the whole turn at once -----------------------------------------------------
    async def process_text_only(
        self, session: str | SessionRecord, text: str, principal: Principal
    ) -> TurnResult:
        return await self.collect(await self.begin_text(session, text, principal))

    async def process_message(
        self, session: str | SessionRecord, audio: bytes, principal: Principal
    ) -> TurnResult:
        return await self.collect(await self.begin_audio(session, audio, principal))

    async def collect(self, turn: Turn) -> TurnResult:
        """Run `turn` to its end; the result with its whole audio."""
        audio = bytearray()
        async with contextlib.aclosing(self.run(turn)) as events:
            async for event in events:
                if isinstance(event, AudioDelta):
                    audio += event.audio
                elif isinstance(event, TurnDone):
                    return event.result.with_audio(bytes(audio))
        raise AssertionError("a turn ends with TurnDone")
