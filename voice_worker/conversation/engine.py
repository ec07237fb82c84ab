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

A spoken turn begins in two steps, `hear` (speech to text) and `begin_heard`, so a
transport that listens continuously may transcribe early and discard it
(`begin_audio` does both). A turn may differ from its session (`TurnOptions`: another
persona, another output format). A reply the user interrupts is stored as far as it was
heard (`store_interrupted`, then `truncate_reply` once the player says where it
stopped): the history the model reads next is what the user heard."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol

from shared.logs import Stopwatch
from shared.speakable import TextRejected, check_characters, has_speakable
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
from voice_worker.conversation.pipeline import speak_while_writing
from voice_worker.conversation.prompt import build_prompt, persona, window_step
from voice_worker.conversation.turn import (
    TurnOptions,
    TurnResult,
    call_provider,
    guarded,
    speech_options,
)
from voice_worker.errors import InvalidRequest, NotFound, UpstreamFailed
from voice_worker.store.base import ChatStore, MessageRecord, NewMessage, SessionRecord
from voice_worker.stt.base import STTProvider, Transcript, TranscriptionOptions
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
    """A turn begun: its session, what the user said, and the clock."""

    session: SessionRecord
    user: NewMessage
    role: str
    watch: Stopwatch = field(default_factory=Stopwatch)
    timings: dict[str, float] = field(default_factory=dict)
    options: TurnOptions = field(default_factory=TurnOptions)


@dataclass(frozen=True)
class Heard:
    """What speech-to-text heard in a user's audio, and how long it took."""

    transcript: Transcript
    seconds: float


class VoiceChatEngine:
    def __init__(
        self,
        store: ChatStore,
        chat: ChatProvider,
        tts: Speaker,
        settings: ChatSettings,
        stt: STTProvider | None = None,
        response_cache: ResponseCache | None = None,
    ) -> None:
        self.store, self.chat, self.tts, self.stt = store, chat, tts, stt
        self.settings = settings
        self.response_cache = response_cache
        self.max_text_chars = settings.max_input_chars
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    async def session(self, session: str | SessionRecord) -> SessionRecord:
        if isinstance(session, SessionRecord):
            return session
        found = await self.store.get_session(session)
        if found is None:
            raise NotFound(f"no voice chat session {session!r}", param="session_id")
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
        self, session: str | SessionRecord, text: str, options: TurnOptions | None = None
    ) -> Turn:
        record = await self.session(session)
        text = self.check_text(text)
        role = self._role(record)
        return Turn(record, NewMessage("user", text), role, options=options or TurnOptions())

    async def begin_audio(
        self, session: str | SessionRecord, audio: bytes, options: TurnOptions | None = None
    ) -> Turn:
        record = await self.session(session)
        self._check_audio(audio)
        self._role(record)  # an unknown role: refused before the audio is transcribed
        watch = Stopwatch()
        return await self.begin_heard(record, await self.hear(record, audio), options, watch)

    async def hear(
        self, session: str | SessionRecord, audio: bytes, language: str | None = None
    ) -> Heard:
        """What the user said in `audio` (an encoded file), in `language` (None: the
        session's)."""
        record = await self.session(session)
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

    async def begin_heard(
        self,
        session: str | SessionRecord,
        heard: Heard,
        options: TurnOptions | None = None,
        watch: Stopwatch | None = None,
    ) -> Turn:
        """The turn of what `hear` heard; refused when it heard no words."""
        record = await self.session(session)
        role = self._role(record)
        transcript = heard.transcript
        text = transcript.text.strip()
        if not text:
            raise InvalidRequest("no speech was recognized in the audio", param="audio")
        user = NewMessage("user", text, transcript=text, audio_duration=transcript.duration or None)
        timings = {"stt": heard.seconds}
        return Turn(record, user, role, watch or Stopwatch(), timings, options or TurnOptions())

    def _role(self, record: SessionRecord) -> str:
        role = record.settings.analyst_role or self.settings.default_role
        persona(self.settings, role)  # unknown role: 400 before any work
        return role

    # -- running it ---------------------------------------------------------------
    async def run(self, turn: Turn) -> AsyncGenerator[TurnEvent, None]:
        """The turn's events as they happen; the last one, TurnDone, once it is stored."""
        record, user, timings, watch = turn.session, turn.user, turn.timings, turn.watch
        lock = self._locks.setdefault(record.id, asyncio.Lock())
        async with lock:  # one turn of a session at a time in this process
            if user.transcript is not None:
                yield Transcribed(user.transcript)
            cacheable = turn.options.instructions is None  # the cache knows roles only
            known = await self._cached_reply(record, turn.role, user.text) if cacheable else None
            options = turn.options.speech(speech_options(record))
            chat = (
                self._replay(known)
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
            try:
                user_row, assistant_row = await self.store.add_turn(record.id, user, assistant)
            except LookupError:
                raise NotFound(f"session {record.id!r} was deleted during the turn") from None
            timings["store"] = stage.seconds
            timings["total"] = watch.seconds
        if self.response_cache is not None and known is None and cacheable:
            await self.response_cache.set(
                record.id, user.text, turn.role, ChatReply(text, thought, end.model)
            )
        log.info("voice turn", extra={"session_id": record.id, "timings": timings})
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
        try:
            return await self.store.add_turn(turn.session.id, turn.user, assistant)
        except LookupError:
            raise NotFound(f"session {turn.session.id!r} was deleted during the turn") from None

    async def truncate_reply(
        self, session_id: str, message_id: int, heard: str, audio_seconds: float
    ) -> None:
        """The stored reply `message_id` cut to what was heard (a player stopped it)."""
        if not await self.store.update_reply(session_id, message_id, heard.strip(), audio_seconds):
            raise NotFound(f"no reply {message_id} in session {session_id!r}", param="item_id")

    # -- the whole turn at once -----------------------------------------------------
    async def process_text_only(self, session: str | SessionRecord, text: str) -> TurnResult:
        return await self.collect(await self.begin_text(session, text))

    async def process_message(self, session: str | SessionRecord, audio: bytes) -> TurnResult:
        return await self.collect(await self.begin_audio(session, audio))

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
