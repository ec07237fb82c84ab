"""`VoiceChatEngine`: one turn of a voice conversation.

process_message: speech-to-text, chat, text-to-speech. process_text_only: the same
without speech-to-text. The turn is stored only after the reply has been synthesized,
and its two messages (the user's and the assistant's) in one transaction, so a failure
anywhere (chat raises, synthesis raises, the process dies) leaves no half turn. The
thinking of a reasoning model is stored with the reply and returned apart; it is never
spoken. What the user types follows the text rule of shared.speakable (no control
characters); what the model answers is cleaned of them before it is spoken. Errors are
the worker's domain errors (voice_worker.errors)."""

from __future__ import annotations

import asyncio
import logging
import weakref
from dataclasses import replace

from shared.logs import Stopwatch
from shared.speakable import TextRejected, check_characters, has_speakable, strip_controls
from voice_worker.chat.base import ChatOptions, ChatProvider, ChatReply, upstream_name
from voice_worker.chat.cache import ResponseCache
from voice_worker.chat.settings import ChatSettings
from voice_worker.conversation.prompt import build_prompt, persona, window_step
from voice_worker.conversation.turn import TurnResult, call_provider, speech_options
from voice_worker.errors import InvalidRequest, NotFound, UpstreamFailed
from voice_worker.store.base import ChatStore, NewMessage, SessionRecord
from voice_worker.stt.base import STTProvider, TranscriptionOptions
from voice_worker.tts.base import TTSProvider

log = logging.getLogger(__name__)


class VoiceChatEngine:
    def __init__(
        self,
        store: ChatStore,
        chat: ChatProvider,
        tts: TTSProvider,
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

    async def process_message(self, session: str | SessionRecord, audio: bytes) -> TurnResult:
        record = await self.session(session)
        if self.stt is None:
            raise InvalidRequest("this worker has no speech-to-text provider configured")
        if not audio:
            raise InvalidRequest("the audio file is empty", param="audio")
        watch = Stopwatch()
        options = TranscriptionOptions(language=record.settings.language or None)
        transcript = await call_provider("speech-to-text", self.stt.transcribe(audio, options))
        stt_seconds = watch.seconds
        text = transcript.text.strip()
        if not text:
            raise InvalidRequest("no speech was recognized in the audio", param="audio")
        user = NewMessage("user", text, transcript=text, audio_duration=transcript.duration or None)
        return await self._turn(record, user, {"stt": stt_seconds}, watch)

    async def process_text_only(self, session: str | SessionRecord, text: str) -> TurnResult:
        record = await self.session(session)
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
        return await self._turn(record, NewMessage("user", text), {}, Stopwatch())

    async def _turn(
        self, record: SessionRecord, user: NewMessage, timings: dict[str, float], watch: Stopwatch
    ) -> TurnResult:
        lock = self._locks.setdefault(record.id, asyncio.Lock())
        async with lock:  # one turn of a session at a time in this process
            role = record.settings.analyst_role or self.settings.default_role
            persona(self.settings, role)  # unknown role: 400 before any work
            stage = Stopwatch()
            reply, cached = await self._reply(record, role, user.text)
            timings["chat"] = stage.seconds
            stage = Stopwatch()
            speech = await call_provider(
                "text-to-speech", self.tts.synthesize(reply.text, speech_options(record))
            )
            timings["tts"] = stage.seconds
            stage = Stopwatch()
            assistant = NewMessage(
                "assistant",
                reply.text,
                thinking=reply.thinking,
                audio_format=speech.format.value,
                audio_duration=speech.duration,
                timings=timings,
            )
            try:
                user_row, assistant_row = await self.store.add_turn(record.id, user, assistant)
            except LookupError:
                raise NotFound(f"session {record.id!r} was deleted during the turn") from None
            timings["store"] = stage.seconds
            timings["total"] = watch.seconds
        if self.response_cache is not None and not cached:
            await self.response_cache.set(record.id, user.text, role, reply)
        log.info("voice turn", extra={"session_id": record.id, "timings": timings})
        return TurnResult(
            record.id,
            user.transcript,
            reply.text,
            reply.thinking,
            speech.audio,
            speech.format.value,
            speech.sample_rate,
            speech.duration,
            timings,
            user_row.id,
            assistant_row.id,
            cached,
        )

    async def _reply(self, record: SessionRecord, role: str, text: str) -> tuple[ChatReply, bool]:
        if self.response_cache is not None:
            hit = await self.response_cache.get(record.id, text, role)
            if hit is not None:
                return hit, True
        budget = self.settings.history_max_messages
        total = await self.store.count_messages(record.id) if budget else 0
        history = await self.store.recent_messages(record.id, budget + window_step(budget))
        messages = build_prompt(self.settings, role, history, text, total)
        options = ChatOptions(self.settings.max_tokens, self.settings.temperature)
        reply = await self.chat.complete(messages, options)
        reply = replace(reply, text=strip_controls(reply.text).strip())
        if not has_speakable(reply.text):
            raise UpstreamFailed(
                upstream_name(self.chat.name),
                "answered with no text to speak" + (" (only thinking)" if reply.thinking else ""),
                code="upstream_empty_reply",
            )
        return reply, False
