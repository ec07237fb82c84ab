"""One connection's state and its client events: the input audio (realtime/input.py:
the buffer and the turn detection on it), the conversation's items, and the response
in progress.

Each client event goes through one table (`routes`: event type -> method); a method
checks the event, changes the state, puts events in the outbox and returns quickly:
transcriptions and responses run as tasks, so `response.cancel` or speech over a reply
is handled while they run. Domain errors raised here become `error` events with the
client's `event_id` (realtime/errors.py) and the connection goes on.

With server VAD a turn is committed when the silence window runs out, and speech over
a response cancels it (`interrupt_response`); the commit uses the early transcript when
there is one (the speech transcribed as soon as the user fell silent).

A realtime session's user items wait for a response (automatic after a VAD turn when
`create_response`, else `response.create`), which answers them all as one turn. A
transcription session (`?intent=transcription`) only transcribes each committed turn:
`conversation.item.input_audio_transcription.delta` per segment, then `.completed`."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any

from openai.types.realtime import (
    ConversationItemCreateEvent,
    ConversationItemTruncatedEvent,
    ConversationItemTruncateEvent,
    InputAudioBufferAppendEvent,
    InputAudioBufferClearedEvent,
    InputAudioBufferCommittedEvent,
    InputAudioBufferSpeechStartedEvent,
    InputAudioBufferSpeechStoppedEvent,
    RealtimeConversationItemUserMessage,
    ResponseCancelEvent,
    ResponseCreateEvent,
    SessionUpdatedEvent,
    SessionUpdateEvent,
)
from pydantic import BaseModel

from voice_worker.auth.principal import ANONYMOUS, Principal
from voice_worker.conversation.engine import VoiceChatEngine
from voice_worker.conversation.prompt import persona
from voice_worker.conversation.turn import Heard
from voice_worker.errors import InvalidRequest, VoiceError
from voice_worker.ratelimit.meter import spend_request
from voice_worker.realtime import events as ev
from voice_worker.realtime.audio import decode_audio, wav
from voice_worker.realtime.config import RealtimeConfig, apply_update, session_object
from voice_worker.realtime.ids import new_id
from voice_worker.realtime.input import InputAudio, SpeechBegan, Turn
from voice_worker.realtime.outbox import Outbox
from voice_worker.realtime.response import Reply, ResponseRun, UserItem, pcm_options
from voice_worker.realtime.settings import RealtimeSettings
from voice_worker.realtime.vad import SileroModel
from voice_worker.store.base import SessionRecord

log = logging.getLogger(__name__)
Hear = Callable[[bytes, RealtimeConfig], Coroutine[Any, Any, Heard]]


class RealtimeSession:
    def __init__(
        self,
        config: RealtimeConfig,
        settings: RealtimeSettings,
        outbox: Outbox,
        vad_model: SileroModel,
        hear: Hear,
        session_id: str,
        engine: VoiceChatEngine | None = None,
        record: SessionRecord | None = None,
        principal: Principal = ANONYMOUS,
    ) -> None:
        self.config, self.settings, self.outbox = config, settings, outbox
        self.hear, self.session_id = hear, session_id
        self.engine, self.record, self.principal = engine, record, principal
        self.input = InputAudio(settings, vad_model, config.turn_detection, self._transcribe_early)
        self.pending: list[UserItem] = []
        self.last_item: str | None = None
        self.response: ResponseRun | None = None
        self.replies: dict[str, Reply] = {}
        self.routes: dict[str, Callable[[BaseModel], Awaitable[None]]] = {
            "session.update": self._session_update,
            "input_audio_buffer.append": self._append,
            "input_audio_buffer.commit": self._commit,
            "input_audio_buffer.clear": self._clear,
            "conversation.item.create": self._item_create,
            "conversation.item.truncate": self._truncate,
            "response.create": self._response_create,
            "response.cancel": self._response_cancel,
        }

    # the session object ---------------------------------------------------------------
    def session_object(self) -> BaseModel:
        instructions, voice = "", self.config.voice
        if self.record is not None and self.engine is not None:
            role = self.record.settings.analyst_role
            own = self.config.instructions
            instructions = persona(self.engine.settings, role) if own is None else own
            voice = voice or self.record.settings.voice
        return session_object(self.config, self.session_id, instructions, voice)

    async def handle(self, event: BaseModel) -> None:
        await self.routes[event.type](event)  # type: ignore[attr-defined]

    async def _session_update(self, event: BaseModel) -> None:
        assert isinstance(event, SessionUpdateEvent)
        before = self.config.turn_detection
        self.config = apply_update(self.config, event.session, self.settings.max_instructions_chars)
        if self.config.turn_detection != before:
            self.input.configure(self.config.turn_detection)
        self.outbox.put(ev.event(SessionUpdatedEvent, session=self.session_object()))

    # the input audio buffer -----------------------------------------------------------
    async def _append(self, event: BaseModel) -> None:
        assert isinstance(event, InputAudioBufferAppendEvent)
        for found in await self.input.append(decode_audio(event.audio)):
            if isinstance(found, SpeechBegan):
                started = ev.event(
                    InputAudioBufferSpeechStartedEvent,
                    audio_start_ms=found.audio_start_ms,
                    item_id=found.item_id,
                )
                self.outbox.put(started)
                vad = self.config.turn_detection
                if vad is not None and vad.interrupt_response and self.response is not None:
                    await self.response.cancel("turn_detected")
            else:
                stopped = ev.event(
                    InputAudioBufferSpeechStoppedEvent,
                    audio_end_ms=found.audio_end_ms,
                    item_id=found.turn.item_id,
                )
                self.outbox.put(stopped)
                self._committed(found.turn)
                vad = self.config.turn_detection
                if vad is not None and vad.create_response and self.record is not None:
                    await self._respond(automatic=True)

    async def _commit(self, event: BaseModel) -> None:
        self._committed(self.input.commit())

    async def _clear(self, event: BaseModel) -> None:
        self.input.clear()
        self.outbox.put(ev.event(InputAudioBufferClearedEvent))

    def _transcribe_early(self, audio: bytes) -> asyncio.Task[Heard]:
        return asyncio.create_task(self.hear(audio, self.config))

    def _committed(self, turn: Turn) -> None:
        """A turn of audio becomes a user item; its transcription starts (or goes on)."""
        previous, self.last_item = self.last_item, turn.item_id
        self.outbox.put(
            ev.event(
                InputAudioBufferCommittedEvent, item_id=turn.item_id, previous_item_id=previous
            )
        )
        self.outbox.put(ev.item_added(ev.user_item(turn.item_id), previous))
        task = asyncio.create_task(
            self._transcription(turn.item_id, previous, turn.audio, turn.early)
        )
        self.pending.append(UserItem(turn.item_id, heard=task))

    async def _transcription(
        self,
        item_id: str,
        previous: str | None,
        audio: bytes,
        early: asyncio.Task[Heard] | None,
    ) -> Heard | None:
        try:
            heard = await early if early is not None else await self.hear(wav(audio), self.config)
        except VoiceError as exc:
            self.outbox.put(ev.transcription_failed(item_id, exc))
            return None
        text = heard.transcript.text.strip()
        if self.config.kind == "transcription":
            for segment in heard.transcript.segments or ():
                if segment.text.strip():
                    self.outbox.put(ev.transcription_delta(item_id, segment.text))
        self.outbox.put(ev.transcription_completed(item_id, text, heard.transcript.duration))
        self.outbox.put(ev.item_done(ev.user_item(item_id, transcript=text), previous))
        if self.config.kind == "transcription":
            self.pending = [i for i in self.pending if i.id != item_id]
        return heard if text else None

    # conversation items ---------------------------------------------------------------
    async def _item_create(self, event: BaseModel) -> None:
        assert isinstance(event, ConversationItemCreateEvent)
        item = event.item
        if self.engine is None:
            raise InvalidRequest(
                "a transcription session has no conversation", param="item", code="invalid_value"
            )
        if not isinstance(item, RealtimeConversationItemUserMessage):
            raise InvalidRequest(
                "only user messages can be added (item.type message, item.role user)",
                param="item.role",
                code="unsupported_value",
            )
        texts = [part.text or "" for part in item.content if part.type in (None, "input_text")]
        if len(texts) != len(item.content):
            raise InvalidRequest(
                "a user message's content here is input_text only",
                param="item.content",
                code="unsupported_value",
            )
        text = self.engine.check_text(" ".join(texts), param="item.content")
        item_id = item.id or new_id("item")
        previous, self.last_item = self.last_item, item_id
        added = ev.user_item(item_id, text=text)
        self.outbox.put(ev.item_added(added, previous))
        self.outbox.put(ev.item_done(added, previous))
        self.pending.append(UserItem(item_id, text=text))

    async def _truncate(self, event: BaseModel) -> None:
        assert isinstance(event, ConversationItemTruncateEvent)
        running = self.response
        if running is not None and running.item_id == event.item_id:
            await running.cancel("client_cancelled")
        reply = self.replies.get(event.item_id)
        if reply is None:
            raise InvalidRequest(
                f"no assistant item {event.item_id!r} in this conversation",
                param="item_id",
                code="invalid_value",
            )
        if event.content_index != 0:
            raise InvalidRequest(
                "content_index: an item here has one part, 0", param="content_index"
            )
        heard_ms = math.ceil(reply.spoken.seconds * 1000)
        if not 0 <= event.audio_end_ms <= heard_ms:
            raise InvalidRequest(
                f"audio_end_ms is {event.audio_end_ms}; the item's audio is {heard_ms} ms",
                param="audio_end_ms",
                code="invalid_value",
            )
        heard = reply.spoken.heard(event.audio_end_ms / 1000)
        if reply.message_id is not None and self.engine is not None and self.record is not None:
            seconds = event.audio_end_ms / 1000
            await self.engine.truncate_reply(self.record.id, reply.message_id, heard, seconds)
        self.outbox.put(
            ev.event(
                ConversationItemTruncatedEvent,
                item_id=event.item_id,
                content_index=0,
                audio_end_ms=event.audio_end_ms,
            )
        )

    # responses --------------------------------------------------------------------
    async def _response_create(self, event: BaseModel) -> None:
        assert isinstance(event, ResponseCreateEvent)
        params = event.response
        instructions, metadata = None, None
        if params is not None:
            if params.input:
                raise InvalidRequest(
                    "response.input is not supported: a response answers the conversation",
                    param="response.input",
                    code="unsupported_value",
                )
            if params.conversation == "none":
                raise InvalidRequest(
                    "out-of-band responses (conversation none) are not supported",
                    param="response.conversation",
                    code="unsupported_value",
                )
            instructions, metadata = params.instructions, params.metadata
        await self._respond(instructions=instructions, metadata=metadata)

    async def _respond(
        self,
        automatic: bool = False,
        instructions: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> None:
        if self.engine is None or self.record is None:
            raise InvalidRequest(
                "a transcription session does not respond", param="type", code="invalid_value"
            )
        if self.response is not None and self.response.active:
            if automatic:
                return  # the user's words wait for the next response
            raise InvalidRequest(
                "the conversation already has an active response; cancel it first",
                code="conversation_already_has_active_response",
            )
        await spend_request("turns")  # the caller's budget: a response is a turn
        items, self.pending = self.pending, []
        c = self.config
        options = pcm_options(c.voice, c.speed, instructions or c.instructions)
        run = ResponseRun(
            self.engine,
            self.record,
            self.principal,
            self.outbox,
            items,
            options,
            self.last_item,
            self._replied,
            self._unanswered,
            metadata,
        )
        self.last_item = run.item_id
        self.response = run
        run.start()

    def _replied(self, reply: Reply) -> None:
        self.replies[reply.item_id] = reply

    def _unanswered(self, items: Sequence[UserItem]) -> None:
        self.pending[:0] = list(items)

    async def _response_cancel(self, event: BaseModel) -> None:
        assert isinstance(event, ResponseCancelEvent)
        running = self.response
        wanted = event.response_id
        if running is None or (wanted and wanted != running.id):
            raise InvalidRequest(
                "there is no response in progress to cancel",
                param="response_id" if wanted else None,
                code="response_cancel_not_active",
            )
        if not await running.cancel("client_cancelled"):
            raise InvalidRequest(
                "the response had already ended", code="response_cancel_not_active"
            )

    async def close(self) -> None:
        """The connection ended: a response in progress stops and stores nothing."""
        if self.response is not None and self.response.task is not None:
            self.response.task.cancel()
            await asyncio.gather(self.response.task, return_exceptions=True)
        for item in self.pending:
            if item.heard is not None:
                item.heard.cancel()
        self.input.close()
