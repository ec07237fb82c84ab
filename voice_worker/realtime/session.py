"""One connection's state and its client events: the input audio buffer and the server
VAD on it, the conversation's items, and the response in progress.

Each client event goes through one table (`routes`: event type -> method); a method
checks the event, changes the state, puts events in the outbox and returns quickly:
transcriptions and responses run as tasks, so `response.cancel` or speech over a reply
is handled while they run. Domain errors raised here become `error` events with the
client's `event_id` (realtime/errors.py) and the connection goes on.

The buffer holds pcm16 24 kHz audio; with server VAD it keeps only the prefix padding
until speech starts, and a turn is committed when the silence window runs out. The VAD
also runs in push-to-talk sessions, only to transcribe early: when the user falls
silent (VOICE_REALTIME__EARLY_TRANSCRIPTION_MS), the speech so far is transcribed at
once, and the commit uses that transcript if nothing was said after it.

A realtime session's user items wait for a response (automatic after a VAD turn when
`create_response`, else `response.create`), which answers them all as one turn. A
transcription session (`?intent=transcription`) only transcribes each committed turn:
`conversation.item.input_audio_transcription.delta` per segment, then `.completed`."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
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

from voice_worker.conversation.engine import Heard, VoiceChatEngine
from voice_worker.conversation.prompt import persona
from voice_worker.errors import InvalidRequest, PayloadTooLarge, VoiceError
from voice_worker.realtime import events as ev
from voice_worker.realtime.audio import BYTES_PER_MS, Downsampler, decode_audio, milliseconds, wav
from voice_worker.realtime.config import RealtimeConfig, apply_update, session_object
from voice_worker.realtime.ids import new_id
from voice_worker.realtime.outbox import Outbox
from voice_worker.realtime.response import Reply, ResponseRun, UserItem, pcm_options
from voice_worker.realtime.vad import (
    FRAME_MS,
    SilenceBegan,
    SileroModel,
    SpeechResumed,
    SpeechStarted,
    SpeechStopped,
    TurnDetector,
    VadConfig,
    VadEvent,
)
from voice_worker.settings import RealtimeSettings
from voice_worker.store.base import SessionRecord

log = logging.getLogger(__name__)
Hear = Callable[[bytes, RealtimeConfig], Coroutine[Any, Any, Heard]]


@dataclass
class Early:
    """A transcription started when the user fell silent, of the buffer up to `end`;
    dropped as soon as the user speaks again (or the buffer changes), so one still here
    at the commit heard everything said."""

    end: int  # bytes of the buffer it covers
    task: asyncio.Task[Heard]


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
    ) -> None:
        self.config, self.settings, self.outbox = config, settings, outbox
        self.hear, self.session_id = hear, session_id
        self.engine, self.record = engine, record
        self.buffer = bytearray()
        self.buffer_ms = 0  # the input time (ms since the connection began) of buffer[0]
        self.speech_item: str | None = None  # the item of the speech in progress (VAD)
        self.early: Early | None = None
        self.detector = TurnDetector(
            vad_model, config.turn_detection or VadConfig(), settings.early_transcription_ms
        )
        self.downsampler = Downsampler()
        self.pending: list[UserItem] = []
        self.last_item: str | None = None
        self.response: ResponseRun | None = None
        self.replies: dict[str, Reply] = {}
        self.tasks: set[asyncio.Task[object]] = set()
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
        self.config = apply_update(self.config, event.session, self.settings.max_instructions_chars)
        self.detector.reset(self.config.turn_detection or VadConfig())
        self.outbox.put(ev.event(SessionUpdatedEvent, session=self.session_object()))

    # the input audio buffer -----------------------------------------------------------
    @property
    def audio_ms(self) -> int:
        """Input time now: ms of audio appended since the connection began."""
        return self.buffer_ms + milliseconds(len(self.buffer))

    async def _append(self, event: BaseModel) -> None:
        assert isinstance(event, InputAudioBufferAppendEvent)
        pcm = decode_audio(event.audio)
        if len(pcm) > self.settings.max_append_bytes:
            raise PayloadTooLarge(
                f"audio holds {len(pcm)} bytes; at most {self.settings.max_append_bytes} "
                "per append",
                param="audio",
                code="audio_too_large",
            )
        cap = int(self.settings.max_buffer_seconds * 1000) * BYTES_PER_MS
        if len(self.buffer) + len(pcm) > cap:
            raise InvalidRequest(
                f"the input audio buffer holds {self.settings.max_buffer_seconds:g} s at "
                "most; commit or clear it (this audio was dropped)",
                param="audio",
                code="input_audio_buffer_full",
            )
        self.buffer += pcm
        samples = self.downsampler.feed(pcm)
        if self.detector.costly(len(samples)):
            found = await asyncio.to_thread(self.detector.feed, samples)
        else:
            found = self.detector.feed(samples)
        for vad_event in found:
            await self._vad(vad_event)
        if self.config.turn_detection is not None and self.speech_item is None:
            self._keep_recent(self.config.turn_detection.prefix_padding_ms + FRAME_MS)

    def _keep_recent(self, ms: int) -> None:
        """While nobody speaks, the buffer keeps only what prefix padding may need."""
        extra = len(self.buffer) - ms * BYTES_PER_MS
        if extra > 0:
            self._drop(extra)

    def _drop(self, size: int) -> None:
        size -= size % 2
        del self.buffer[:size]
        self.buffer_ms += milliseconds(size)
        self._discard_early()

    def _discard_early(self) -> None:
        if self.early is not None:
            self.early.task.cancel()
            self.early = None

    def _offset(self, ms: int) -> int:
        """The buffer position of input time `ms`."""
        position = max(0, (ms - self.buffer_ms) * BYTES_PER_MS)
        return min(position, len(self.buffer))

    async def _vad(self, found: VadEvent) -> None:
        vad = self.config.turn_detection
        if isinstance(found, SpeechStarted):
            self._discard_early()
            if vad is None:
                return
            start = max(self.buffer_ms, found.at_ms - vad.prefix_padding_ms)
            self._drop(self._offset(start))
            self.speech_item = new_id("item")
            self.outbox.put(
                ev.event(
                    InputAudioBufferSpeechStartedEvent,
                    audio_start_ms=start,
                    item_id=self.speech_item,
                )
            )
            if vad.interrupt_response and self.response is not None:
                await self.response.cancel("turn_detected")
        elif isinstance(found, SilenceBegan):
            self._transcribe_early(self._offset(found.at_ms))
        elif isinstance(found, SpeechResumed):
            self._discard_early()
        elif isinstance(found, SpeechStopped) and vad is not None and self.speech_item:
            item_id, self.speech_item = self.speech_item, None
            self.outbox.put(
                ev.event(
                    InputAudioBufferSpeechStoppedEvent, audio_end_ms=found.at_ms, item_id=item_id
                )
            )
            self._commit_audio(item_id, self._offset(found.at_ms))
            if vad.create_response and self.record is not None:
                await self._respond(automatic=True)

    def _transcribe_early(self, end: int) -> None:
        if self.settings.early_transcription_ms < 0 or end < self._min_commit_bytes():
            return
        audio = wav(bytes(self.buffer[:end]))
        self.early = Early(end, asyncio.create_task(self.hear(audio, self.config)))
        self.early.task.add_done_callback(_quiet)

    def _min_commit_bytes(self) -> int:
        return self.settings.min_commit_ms * BYTES_PER_MS

    async def _commit(self, event: BaseModel) -> None:
        if len(self.buffer) < max(self._min_commit_bytes(), 2):
            have = milliseconds(len(self.buffer))
            raise InvalidRequest(
                f"buffer too small: a commit needs at least {self.settings.min_commit_ms} ms "
                f"of audio, the buffer holds {have} ms",
                param="audio",
                code="input_audio_buffer_commit_empty",
            )
        item_id, self.speech_item = self.speech_item or new_id("item"), None
        self.detector.reset()
        self._commit_audio(item_id, len(self.buffer))

    async def _clear(self, event: BaseModel) -> None:
        self._drop(len(self.buffer))
        self.speech_item = None
        self.detector.reset()
        self.outbox.put(ev.event(InputAudioBufferClearedEvent))

    def _commit_audio(self, item_id: str, end: int) -> None:
        """The buffer up to `end` becomes a user item; its transcription starts."""
        audio = bytes(self.buffer[:end])
        early, self.early = self.early, None  # used here, or dropped below
        reuse = early is not None and end >= early.end
        if early is not None and not reuse:
            early.task.cancel()
        self._drop(end)
        self.outbox.put(
            ev.event(
                InputAudioBufferCommittedEvent, item_id=item_id, previous_item_id=self.last_item
            )
        )
        previous, self.last_item = self.last_item, item_id
        self.outbox.put(ev.item_added(ev.user_item(item_id), previous))
        source = early.task if reuse and early is not None else None
        task = asyncio.create_task(self._transcription(item_id, previous, audio, source))
        self.pending.append(UserItem(item_id, heard=task))

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
        items, self.pending = self.pending, []
        c = self.config
        options = pcm_options(c.voice, c.speed, instructions or c.instructions)
        run = ResponseRun(
            self.engine,
            self.record,
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
        if self.early is not None:
            self.early.task.cancel()


def _quiet(task: asyncio.Task[Heard]) -> None:
    """An early transcription nobody waits for: its failure is not worth a warning."""
    if not task.cancelled():
        task.exception()
