"""One connection's state and its client events: the input audio (realtime/input.py:
the buffer and the turn detection on it) and the conversation (realtime/conversation.py:
its items and the response in progress).

`handle` matches each client event on its SDK type; a branch checks the event, changes
the state, puts events in the outbox and returns quickly: transcriptions and responses
run as tasks, so `response.cancel` or speech over a reply is handled while they run.
Domain errors raised here become `error` events with the client's `event_id`
(realtime/errors.py) and the connection goes on. `conversation.item.retrieve` and
`.delete` work on the conversation's items (realtime/conversation.py says what a
deletion does to the stored history). The MCP servers an update names in
`session.tools` are listed then (realtime/mcp_tools.py), and each response is given
the session's tools.

With server VAD a turn is committed when the silence window runs out, and speech over
a response cancels it (`interrupt_response`); the commit uses the early transcript when
there is one (the speech transcribed as soon as the user fell silent), and the reply
to it may be written ahead meanwhile (realtime/ahead.py). Each committed
utterance becomes a user item and is transcribed; a transcription session
(`?intent=transcription`) only does that: `conversation.item.input_audio_transcription
.delta` per segment, then `.completed`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from openai.types.realtime import (
    ConversationItemCreateEvent,
    ConversationItemDeleteEvent,
    ConversationItemRetrieveEvent,
    ConversationItemTruncateEvent,
    InputAudioBufferAppendEvent,
    InputAudioBufferClearedEvent,
    InputAudioBufferClearEvent,
    InputAudioBufferCommitEvent,
    InputAudioBufferCommittedEvent,
    InputAudioBufferSpeechStartedEvent,
    InputAudioBufferSpeechStoppedEvent,
    RealtimeClientEvent,
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
from voice_worker.errors import VoiceError
from voice_worker.realtime import events as ev
from voice_worker.realtime.ahead import RepliesAhead
from voice_worker.realtime.audio import wav
from voice_worker.realtime.config import RealtimeConfig, apply_update, session_object
from voice_worker.realtime.conversation import Conversation
from voice_worker.realtime.input import InputAudio, SpeechBegan, Utterance
from voice_worker.realtime.items import UserItem
from voice_worker.realtime.mcp_tools import SessionTools, listed
from voice_worker.realtime.outbox import Outbox
from voice_worker.realtime.protocol import unsupported
from voice_worker.realtime.response import ResponseContext
from voice_worker.realtime.response_request import response_request
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
        tools: SessionTools | None = None,
    ) -> None:
        self.config, self.settings, self.outbox = config, settings, outbox
        self.tools = tools  # the MCP servers its turns may use (realtime/mcp_tools.py)
        self.allowed_mcp_urls = tools.settings.allowed_mcp_urls if tools else []
        self.hear, self.session_id = hear, session_id
        context = None  # a transcription session has no engine and no stored session
        if engine is not None and record is not None:
            context = ResponseContext(engine, record, principal, outbox)
        self.conversation = Conversation(context)
        self.input = InputAudio(
            settings, vad_model, config.turn_detection, self._transcribe_early, config.input_format
        )
        self.ahead = RepliesAhead(
            self.conversation, lambda: self.config, settings.speculative_replies
        )
        self.input.on_early_discarded = self.ahead.discarded

    def session_object(self) -> BaseModel:
        instructions, voice = "", self.config.voice
        context = self.conversation.context
        if context is not None:
            role = context.record.settings.analyst_role
            own = self.config.instructions
            instructions = persona(context.engine.settings, role) if own is None else own
            voice = voice or context.record.settings.voice
        return session_object(self.config, self.session_id, instructions, voice)

    async def handle(self, event: RealtimeClientEvent) -> None:
        """One client event, as realtime/protocol.py parsed it."""
        match event:
            case SessionUpdateEvent():
                before = self.config.turn_detection
                limit = self.settings.max_instructions_chars
                urls = self.allowed_mcp_urls
                self.config = apply_update(self.config, event.session, limit, urls)
                if self.config.turn_detection != before:
                    self.input.configure(self.config.turn_detection)
                self.input.set_format(self.config.input_format)
                self.outbox.put(ev.event(SessionUpdatedEvent, session=self.session_object()))
                await self._list_tools()
            case InputAudioBufferAppendEvent():
                await self.append(event.audio)
            case InputAudioBufferCommitEvent():
                self._committed(self.input.commit())
            case InputAudioBufferClearEvent():
                self.input.clear()
                self.outbox.put(ev.event(InputAudioBufferClearedEvent))
            case ConversationItemCreateEvent():
                self.conversation.add_typed(event)
            case ConversationItemTruncateEvent():
                self.outbox.put(await self.conversation.truncate(event))
            case ConversationItemRetrieveEvent():
                self.outbox.put(self.conversation.retrieve(event.item_id))
            case ConversationItemDeleteEvent():
                self.outbox.put(await self.conversation.delete(event.item_id))
            case ResponseCreateEvent():
                request = response_request(self.config, event.response, self._tools())
                await self.conversation.respond(request)
            case ResponseCancelEvent():
                await self.conversation.cancel(event.response_id)
            case _:
                raise unsupported(event.type)

    # the session's MCP servers ------------------------------------------------------
    async def _list_tools(self) -> None:
        """The servers a session.update named first: their tools listed (mcp_list_tools)."""
        if self.tools is None:
            return
        for entry, server in self.tools.configure(self.config.mcp):
            await listed(entry, server, self.outbox.put, self.conversation.items)

    def _tools(self) -> SessionTools | None:
        """The tools a response is given (None: the worker's own, as any turn)."""
        tools = self.tools
        return tools if tools is not None and (tools.active or tools.worker) else None

    # the input audio buffer -----------------------------------------------------------
    async def append(self, audio: str | bytes) -> None:
        """Input audio: an append's `audio` (base64, in the input format), or pcm16 at
        24 kHz from a transport that carries audio itself (WebRTC's track)."""
        for found in await self.input.append(audio):
            vad = self.config.turn_detection
            if isinstance(found, SpeechBegan):
                started = ev.event(
                    InputAudioBufferSpeechStartedEvent,
                    audio_start_ms=found.audio_start_ms,
                    item_id=found.item_id,
                )
                self.outbox.put(started)
                if vad is not None and vad.interrupt_response:
                    await self.conversation.interrupt()
            else:
                stopped = ev.event(
                    InputAudioBufferSpeechStoppedEvent,
                    audio_end_ms=found.audio_end_ms,
                    item_id=found.utterance.item_id,
                )
                self.outbox.put(stopped)
                self._committed(found.utterance)
                automatic = vad is not None and vad.create_response
                if automatic and self.conversation.context is not None:
                    request = response_request(self.config, tools=self._tools())
                    await self.conversation.respond(request, automatic=True)

    def _transcribe_early(self, audio: bytes) -> asyncio.Task[Heard]:
        task = asyncio.create_task(self.hear(audio, self.config))
        self.ahead.early(task)  # the reply may be written ahead once it is done
        return task

    def _committed(self, utterance: Utterance) -> None:
        """An utterance becomes a user item; its transcription starts (or goes on)."""
        item_id = utterance.item_id
        added = ev.user_item(item_id)
        previous = self.conversation.items.add(added)
        self.outbox.put(
            ev.event(InputAudioBufferCommittedEvent, item_id=item_id, previous_item_id=previous)
        )
        self.outbox.put(ev.item_added(added, previous))
        task = asyncio.create_task(self._transcription(item_id, previous, utterance))
        self.conversation.pending.append(UserItem(item_id, heard=task))

    async def _transcription(
        self, item_id: str, previous: str | None, utterance: Utterance
    ) -> Heard | None:
        early = utterance.early
        try:
            if early is not None:
                heard = await early
            else:
                heard = await self.hear(wav(utterance.audio), self.config)
        except VoiceError as exc:
            self.outbox.put(ev.transcription_failed(item_id, exc))
            return None
        text = heard.transcript.text.strip()
        if self.config.kind == "transcription":
            for segment in heard.transcript.segments or ():
                if segment.text.strip():
                    self.outbox.put(ev.transcription_delta(item_id, segment.text))
        self.outbox.put(ev.transcription_completed(item_id, text, heard.transcript.duration))
        done = ev.user_item(item_id, transcript=text)
        self.conversation.items.update(done)
        self.outbox.put(ev.item_done(done, previous))
        if self.config.kind == "transcription":
            self.conversation.forget(item_id)
        return heard if text else None

    async def close(self) -> None:
        """The connection ended: a response in progress stops and stores nothing."""
        self.ahead.close()
        await self.conversation.close()
        self.input.close()
