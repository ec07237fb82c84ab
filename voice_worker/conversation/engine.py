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
it from becoming template control tokens (chat.control, chat.local_prompt)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol

from shared.logs import Stopwatch
from shared.speakable import TextRejected, check_characters, has_speakable
from voice_worker.auth.principal import Principal
from voice_worker.chat.base import (
    ChatEnd,
    ChatEvent,
    ChatOptions,
    ChatProvider,
    ChatReply,
    TextDelta,
    upstream_name,
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
from voice_worker.conversation.sessions import not_found
from voice_worker.conversation.turn import TurnResult, call_provider, guarded, speech_options
from voice_worker.conversation.turn_lock import TurnLocks
from voice_worker.errors import Conflict, InProgress, InvalidRequest, NotFound, UpstreamFailed
from voice_worker.observability import metrics
from voice_worker.store.base import ChatStore, KeyLost, NewMessage, SessionRecord, TurnLeaseLost
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


@dataclass
class Turn:
    """A turn begun: its session, what the user said, and the clock; with an
    Idempotency-Key, the key it holds, or the stored result it replays."""

    session: SessionRecord
    user: NewMessage
    role: str
    watch: Stopwatch = field(default_factory=Stopwatch)
    timings: dict[str, float] = field(default_factory=dict)
    held: Held | None = None
    replay: TurnResult | None = None


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
    async def begin_text(
        self,
        session: str | SessionRecord,
        text: str,
        principal: Principal,
        key: str | None = None,
    ) -> Turn:
        record = await self.session(session, principal)
        text = (text or "").strip()
        if not text:
            raise InvalidRequest("the text is empty", param="text")
        if len(text) > self.max_text_chars:
            raise InvalidRequest(
                f"the text is {len(text)} characters; at most {self.max_text_chars}",
                param="text",
                code="string_above_max_length",
            )
        try:
            check_characters(text)
        except TextRejected as exc:
            raise InvalidRequest(exc.message, param="text", code="invalid_character") from None
        role = self._role(record)
        held = await self._claim(principal, key, "text", record.id, text)
        if isinstance(held, TurnResult):
            return Turn(record, NewMessage("user", text), role, replay=held)
        return Turn(record, NewMessage("user", text), role, held=held)

    async def begin_audio(
        self,
        session: str | SessionRecord,
        audio: bytes,
        principal: Principal,
        key: str | None = None,
    ) -> Turn:
        record = await self.session(session, principal)
        if self.stt is None:
            raise InvalidRequest("this worker has no speech-to-text provider configured")
        if not audio:
            raise InvalidRequest("the audio file is empty", param="audio")
        role = self._role(record)
        held = await self._claim(principal, key, "audio", record.id, audio)
        if isinstance(held, TurnResult):
            return Turn(record, NewMessage("user", held.transcript or ""), role, replay=held)
        watch = Stopwatch()
        options = TranscriptionOptions(language=record.settings.language or None)
        try:
            async with held.kept() if held else contextlib.nullcontext():
                stt = self.stt.transcribe(audio, options)
                transcript = await call_provider("speech-to-text", stt)
            text = transcript.text.strip()
            if not text:
                raise InvalidRequest("no speech was recognized in the audio", param="audio")
        except BaseException:
            if held is not None:
                await held.release()
            raise
        user = NewMessage("user", text, transcript=text, audio_duration=transcript.duration or None)
        return Turn(record, user, role, watch, {"stt": watch.seconds}, held)

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
            events = self._run_held(turn, turn.held)
        async with contextlib.aclosing(events):
            async for event in events:
                yield event

    async def _run_held(self, turn: Turn, held: Held) -> AsyncGenerator[TurnEvent, None]:
        stored = False
        try:
            async with held.kept(), contextlib.aclosing(self._run(turn)) as events:
                async for event in events:
                    stored = stored or isinstance(event, TurnDone)
                    yield event
        finally:
            if not stored:
                await held.release()

    async def _run(self, turn: Turn) -> AsyncGenerator[TurnEvent, None]:
        record, user, timings, watch = turn.session, turn.user, turn.timings, turn.watch
        # one turn of a session at a time, across workers: from its history to its storage
        async with self.turn_locks.hold(record.id) as lease:
            if user.transcript is not None:
                yield Transcribed(user.transcript)
            known = await self._cached_reply(record, turn.role, user.text)
            options = speech_options(record)
            chat = self._replay(known) if known else await self._ask(record, turn.role, user.text)

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
            try:
                user_row, assistant_row = await self.store.add_turn(
                    record.id, user, assistant, receipt, lease
                )
            except LookupError:
                raise NotFound(f"session {record.id!r} was deleted during the turn") from None
            except TurnLeaseLost:
                raise Conflict(
                    f"the turn of session {record.id!r} took longer than its lease and another "
                    "turn took over; it was not stored",
                    code="turn_lease_lost",
                ) from None
            except KeyLost:
                raise InProgress(
                    "this turn's Idempotency-Key was taken over by a retry; not stored",
                    param="Idempotency-Key",
                    code="idempotency_key_in_use",
                    retry_after=1,
                ) from None
            timings["store"] = stage.seconds
            timings["total"] = watch.seconds
        if self.response_cache is not None and known is None:
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
        self, record: SessionRecord, role: str, text: str
    ) -> AsyncGenerator[ChatEvent, None]:
        budget = self.settings.history_max_messages
        total = await self.store.count_messages(record.id) if budget else 0
        history = await self.store.recent_messages(record.id, budget + window_step(budget))
        messages = build_prompt(self.settings, role, history, text, total)
        options = ChatOptions(self.settings.max_tokens, self.settings.temperature)
        return self._checked(guarded(CHAT, self.chat.stream(messages, options)))

    async def _checked(
        self, events: AsyncGenerator[ChatEvent, None]
    ) -> AsyncGenerator[ChatEvent, None]:
        """The chat's events; at the end, an error if it said nothing speakable."""
        said, thought = [], False
        async with contextlib.aclosing(events):
            async for event in events:
                if isinstance(event, TextDelta):
                    said.append(event.text)
                thought = thought or isinstance(event, ChatThinking)
                yield event
        if not has_speakable("".join(said)):
            raise UpstreamFailed(
                upstream_name(self.chat.name),
                "answered with no text to speak" + (" (only thinking)" if thought else ""),
                code="upstream_empty_reply",
            )

    @staticmethod
    async def _replay(reply: ChatReply) -> AsyncGenerator[ChatEvent, None]:
        """A cached reply, as if it were being written."""
        if reply.thinking:
            yield ChatThinking(reply.thinking)
        yield TextDelta(reply.text)
        yield ChatEnd(reply.model, reply.usage)

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
