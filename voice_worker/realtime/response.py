"""One response: the user's words (waiting for their transcription) become a turn of
the `VoiceChatEngine`, whose events go out as the protocol's, until it is done, fails
or is cancelled.

In order: `response.created`; once the turn has begun, `response.output_item.added`,
`conversation.item.added` (the assistant message) and `response.content_part.added`;
then `response.output_audio_transcript.delta` (ReplyDelta) and
`response.output_audio.delta` (AudioDelta, pcm16 24 kHz, at most `MAX_DELTA_SECONDS`
each) as they happen; then the `.done` of each and `response.done` with the status
(completed, cancelled with its reason, failed with the error) and the chat's usage.

Cancelling (`cancel`: `response.cancel`, or the user speaking over it) cancels the task
that reads the engine's `run()`, which closes it: the chat model and the synthesis stop
and the engine stores nothing. The deltas still queued are dropped (realtime/outbox.py),
and the turn is stored as far as its audio went out (`store_interrupted`), to be cut to
what was really heard when the client truncates the item. A response of which nothing
went out stores nothing, and its user items wait for the next response."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from openai.types.realtime import (
    ResponseAudioDeltaEvent,
    ResponseAudioDoneEvent,
    ResponseAudioTranscriptDeltaEvent,
    ResponseAudioTranscriptDoneEvent,
    ResponseContentPartAddedEvent,
    ResponseContentPartDoneEvent,
    ResponseCreatedEvent,
    ResponseDoneEvent,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
)
from pydantic import BaseModel

from shared.audio.formats import AudioFormat
from shared.logs import Stopwatch
from voice_worker.auth.principal import Principal
from voice_worker.conversation.engine import VoiceChatEngine
from voice_worker.conversation.events import AudioDelta, ReplyDelta, TurnDone
from voice_worker.conversation.heard import SpokenReply
from voice_worker.conversation.turn import Heard, Turn, TurnOptions, TurnResult
from voice_worker.errors import InvalidRequest, VoiceError
from voice_worker.realtime import events as ev
from voice_worker.realtime.audio import BYTES_PER_MS, RATE, encode_audio, voiced_span
from voice_worker.realtime.ids import new_id
from voice_worker.realtime.outbox import AudioMark, Outbox
from voice_worker.store.base import SessionRecord
from voice_worker.stt.base import Transcript

log = logging.getLogger(__name__)
MAX_DELTA_SECONDS = 0.5
Status = Literal["completed", "cancelled", "failed"]


@dataclass
class UserItem:
    """A user message waiting for its answer: typed text, or audio being transcribed
    (`heard` resolves to None when the transcription failed or heard nothing)."""

    id: str
    text: str | None = None
    heard: asyncio.Task[Heard | None] | None = None

    async def words(self) -> tuple[str, Heard | None]:
        if self.heard is None:
            return self.text or "", None
        heard = await asyncio.shield(self.heard)
        return ("", None) if heard is None else (heard.transcript.text.strip(), heard)


@dataclass
class Reply:
    """An assistant item as the client may truncate it."""

    item_id: str
    spoken: SpokenReply
    message_id: int | None  # the stored message (None: nothing stored)


class ResponseRun:
    def __init__(
        self,
        engine: VoiceChatEngine,
        record: SessionRecord,
        principal: Principal,
        outbox: Outbox,
        items: Sequence[UserItem],
        options: TurnOptions,
        previous_item: str | None,
        on_reply: Callable[[Reply], None],
        on_unanswered: Callable[[Sequence[UserItem]], None],
        metadata: dict[str, str] | None = None,
    ) -> None:
        self.engine, self.record, self.outbox = engine, record, outbox
        self.principal = principal  # whom the turn is for (the record is theirs)
        self.items, self.options, self.previous_item = list(items), options, previous_item
        self.on_reply, self.on_unanswered = on_reply, on_unanswered
        self.metadata = metadata
        self.id, self.item_id = new_id("resp"), new_id("item")
        self.voice = options.voice or record.settings.voice or "default"
        self.spoken = SpokenReply()
        self.written: list[str] = []
        self.turn: Turn | None = None
        self.result: TurnResult | None = None
        self.item_started = False
        self.finished = False
        self._cancelled = False
        self.cancel_watch: Stopwatch | None = None
        self.task: asyncio.Task[None] | None = None

    # the outbox's Owner --------------------------------------------------------
    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def sent(self, audio: AudioMark) -> None:
        self.spoken.add(audio.seconds, audio.text, audio.text_start, audio.voiced)

    # running --------------------------------------------------------------------
    def start(self) -> None:
        self.task = asyncio.create_task(self._run())

    @property
    def active(self) -> bool:
        return self.task is not None and not self.finished

    async def _run(self) -> None:
        self.outbox.put(ev.event(ResponseCreatedEvent, response=self._object("in_progress")))
        failure: VoiceError | None = None
        try:
            turn = await self._begin()
            self._open_item()
            await self._speak(turn)
        except VoiceError as exc:
            failure = exc
        await self._finish("failed" if failure else "completed", error=failure)

    async def _begin(self) -> Turn:
        texts: list[str] = []
        heard: list[Heard] = []
        for item in self.items:
            text, spoken = await item.words()
            if text:
                texts.append(text)
            if spoken is not None and text:
                heard.append(spoken)
        if not texts:
            raise InvalidRequest(
                "there is nothing to answer: no user message with words since the last response",
                code="no_user_input",
            )
        if not heard:
            text = " ".join(texts)
            self.turn = await self.engine.begin_text(
                self.record, text, self.principal, options=self.options
            )
        else:
            joined = Transcript(" ".join(texts), duration=sum(h.transcript.duration for h in heard))
            stt = sum(h.seconds for h in heard)
            self.turn = self.engine.begin_heard(self.record, Heard(joined, stt), self.options)
        return self.turn

    def _open_item(self) -> None:
        item = ev.assistant_item(self.item_id, "in_progress")
        ids = {"response_id": self.id, "output_index": 0}
        self.outbox.put(ev.event(ResponseOutputItemAddedEvent, item=item, **ids))
        self.outbox.put(ev.item_added(item, self.previous_item))
        part = {"type": "audio", "transcript": ""}
        self.outbox.put(ev.event(ResponseContentPartAddedEvent, part=part, **self._part_ids()))
        self.item_started = True

    def _part_ids(self) -> dict[str, object]:
        return {
            "response_id": self.id,
            "item_id": self.item_id,
            "output_index": 0,
            "content_index": 0,
        }

    async def _speak(self, turn: Turn) -> None:
        ids = self._part_ids()
        step = int(MAX_DELTA_SECONDS * RATE) * 2
        mark, start = "", 0.0  # a sentence whose audio is next
        async with contextlib.aclosing(self.engine.run(turn)) as events:
            async for event in events:
                if isinstance(event, ReplyDelta):
                    self.written.append(event.text)
                    delta = ev.event(ResponseAudioTranscriptDeltaEvent, delta=event.text, **ids)
                    self.outbox.put(delta, owner=self)
                elif isinstance(event, AudioDelta):
                    if event.text:
                        mark, start = event.text, event.text_start
                    for i in range(0, len(event.audio), step):
                        chunk = event.audio[i : i + step]
                        audio = ev.event(ResponseAudioDeltaEvent, delta=encode_audio(chunk), **ids)
                        seconds = len(chunk) / (BYTES_PER_MS * 1000)
                        note = AudioMark(seconds, mark, start, voiced_span(chunk))
                        self.outbox.put(audio, owner=self, audio=note)
                        mark = ""
                elif isinstance(event, TurnDone):
                    self.result = event.result

    # ending -----------------------------------------------------------------------
    async def cancel(self, reason: str) -> bool:
        """Stop it (True), or say it had already ended (False)."""
        if self.task is None or self.finished:
            return False
        if self.result is not None:  # stored already: it ends by itself
            await asyncio.shield(self.task)
            return False
        self._cancelled = True
        self.cancel_watch = Stopwatch()
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        if self.finished:
            return False
        log.info(
            "realtime response cancelled",
            extra={"reason": reason, "ms": round(self.cancel_watch.seconds * 1000, 1)},
        )
        await self._finish("cancelled", reason=reason)
        return True

    async def _finish(
        self, status: Status, reason: str | None = None, error: VoiceError | None = None
    ) -> None:
        self.finished = True
        message_id: int | None = None
        if status == "completed" and self.result is not None:
            transcript, message_id = self.result.reply_text, self.result.assistant_message_id
        elif status == "cancelled" and self.turn is not None:
            transcript = self.spoken.heard(self.spoken.seconds)
            message_id = await self._store_heard(transcript)
        else:  # failed, or cancelled before it began: its user items wait for the next
            transcript = self.spoken.heard(self.spoken.seconds)
            self.on_unanswered(self.items)
        output: list[BaseModel] = []
        if self.item_started:
            item_status: ev.Status = "completed" if status == "completed" else "incomplete"
            item = ev.assistant_item(self.item_id, item_status, transcript)
            ids = self._part_ids()
            self.outbox.put(ev.event(ResponseAudioDoneEvent, **ids))
            done = ev.event(ResponseAudioTranscriptDoneEvent, transcript=transcript, **ids)
            self.outbox.put(done)
            part = {"type": "audio", "transcript": transcript}
            self.outbox.put(ev.event(ResponseContentPartDoneEvent, part=part, **ids))
            done_ids = {"response_id": self.id, "output_index": 0}
            self.outbox.put(ev.event(ResponseOutputItemDoneEvent, item=item, **done_ids))
            self.outbox.put(ev.item_done(item, self.previous_item))
            self.on_reply(Reply(self.item_id, self.spoken, message_id))
            output.append(item)
        usage = self.result.usage if self.result is not None else None
        response = self._object(status, output, reason, error, usage)
        self.outbox.put(ev.event(ResponseDoneEvent, response=response))

    async def _store_heard(self, heard: str) -> int | None:
        assert self.turn is not None
        try:
            rows = await self.engine.store_interrupted(self.turn, heard, self.spoken.seconds)
        except VoiceError as exc:
            log.warning("interrupted turn not stored", extra={"error": exc.message})
            return None
        if rows is None:
            self.on_unanswered(self.items)
            return None
        return rows[1].id

    def _object(
        self,
        status: Literal["completed", "cancelled", "failed", "in_progress"],
        output: list[BaseModel] | None = None,
        reason: str | None = None,
        error: VoiceError | None = None,
        usage: dict[str, int] | None = None,
    ) -> BaseModel:
        return ev.response_object(
            self.id, status, self.voice, output, reason, error, usage, self.metadata
        )


def pcm_options(voice: str, speed: float | None, instructions: str | None) -> TurnOptions:
    """A realtime turn's output: pcm16 at 24 kHz, as the protocol requires."""
    return TurnOptions(
        instructions=instructions,
        audio_format=AudioFormat.PCM,
        sample_rate=RATE,
        voice=voice or None,
        speed=speed,
    )
