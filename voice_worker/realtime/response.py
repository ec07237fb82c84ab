"""One response: the user's words (waiting for their transcription) become a turn of
the `VoiceChatEngine`, whose events go out as the protocol's, until it is done, fails
or is cancelled.

In order: `response.created` (put out when the run starts, so every `response.done`
has one before it, even when a cancel comes before the task's first step); once the
turn has begun, the assistant item is added to the conversation's items (realtime/
items.py, after the item that is last then), and `response.output_item.added`,
`conversation.item.added` (the assistant message) and `response.content_part.added`
(realtime/output.py); then `response.output_audio_transcript.delta` (ReplyDelta) and
`response.output_audio.delta` (AudioDelta, pcm16 24 kHz or G.711 as the response's
output format, at most `MAX_DELTA_SECONDS` each) as they happen; then the `.done` of
each and `response.done` with the status (completed, cancelled with its reason,
failed with the error) and the chat's usage.

Cancelling (`cancel`: `response.cancel`, or the user speaking over it) cancels the task
that reads the engine's `run()`, which closes it: the chat model and the synthesis stop
and the engine stores nothing. The deltas still queued are dropped (realtime/outbox.py),
and the turn is stored as far as its audio went out (`store_interrupted`), to be cut to
what was really heard when the client truncates the item. A response of which nothing
went out stores nothing, and its user items wait for the next response.

A response offered the client's functions opens its message item only when the model
says something (a call alone is only its `function_call` item); each call the model
makes is a `function_call` item after it (realtime/function_items.py), and the turn
pauses (not stored) for the client's outputs: a later response goes on with it
(`continuing`), and the turn is stored when the model answers.

A run calls nothing back: what it leaves (`ResponseOutcome`: the reply the client may
truncate, the user items still unanswered) is its `outcome` once it has ended, and the
conversation takes it in (realtime/conversation.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from openai.types.realtime import ResponseCreatedEvent, ResponseDoneEvent
from pydantic import BaseModel

from shared.logs import Stopwatch
from voice_worker.auth.principal import Principal
from voice_worker.chat.base import ToolCall
from voice_worker.conversation.engine import VoiceChatEngine
from voice_worker.conversation.events import (
    AudioDelta,
    FunctionCalled,
    ReplyDelta,
    TurnDone,
    TurnPaused,
)
from voice_worker.conversation.functions import resumed
from voice_worker.conversation.heard import SpokenReply
from voice_worker.conversation.turn import Heard, Turn, TurnResult
from voice_worker.errors import VoiceError
from voice_worker.realtime import events as ev
from voice_worker.realtime.audio import BYTES_PER_MS, RATE, voiced_span
from voice_worker.realtime.formats import OutputEncoder
from voice_worker.realtime.function_items import call_events, call_item
from voice_worker.realtime.ids import new_id
from voice_worker.realtime.items import ItemList, Reply, UserItem, user_words
from voice_worker.realtime.mcp_items import ReportedTools, approval_request, requested
from voice_worker.realtime.mcp_tools import SessionTools
from voice_worker.realtime.outbox import AudioMark, Outbox
from voice_worker.realtime.output import Output
from voice_worker.realtime.response_request import ResponseRequest
from voice_worker.store.base import SessionRecord

log = logging.getLogger(__name__)
MAX_DELTA_SECONDS = 0.5
Status = Literal["completed", "cancelled", "failed"]


@dataclass(frozen=True)
class ResponseContext:
    """What a connection's responses need: the engine, the stored session they answer
    in, whom for (the record is theirs), and the outbox their events go to."""

    engine: VoiceChatEngine
    record: SessionRecord
    principal: Principal
    outbox: Outbox


@dataclass(frozen=True)
class ResponseOutcome:
    """What an ended response leaves to the conversation."""

    status: Status
    reply: Reply | None  # its assistant item, once opened (the client may truncate it)
    unanswered: tuple[UserItem, ...] = ()  # user items that wait for the next response
    paused: TurnPaused | None = None  # the turn waits for the client's function outputs
    approvals: dict[str, ToolCall] = field(default_factory=dict)  # by approval request id


@dataclass(frozen=True)
class Continuing:
    """A paused turn a response goes on with: the outputs the client gave, and the
    MCP calls it approved (run first, in this response)."""

    paused: TurnPaused
    outputs: dict[str, str]
    approved: tuple[ToolCall, ...] = ()


class ResponseRun:
    def __init__(
        self,
        context: ResponseContext,
        request: ResponseRequest,
        *,
        items: Sequence[UserItem],
        item_list: ItemList,
        continuing: Continuing | None = None,
    ) -> None:
        self.context, self.outbox = context, context.outbox
        self.options, self.metadata = request.options, request.metadata
        self.items, self.item_list = tuple(items), item_list
        self.continuing = continuing  # a paused turn this response goes on with
        self.session_tools = self.options.tools
        if isinstance(self.session_tools, SessionTools):  # its calls told as mcp_call items
            tools = ReportedTools(self.session_tools, self)
            self.options = replace(self.options, tools=tools)
        # with tools, its message item is opened once it speaks (a call alone is no message)
        self.lazy = self.options.functions is not None or self.options.tools is not None
        self.outputs: dict[int, BaseModel] = {}  # its output items by output_index
        self.approvals: dict[str, ToolCall] = {}
        self.function_calls: set[str] = set()  # the call ids of its function_call items
        self.paused: TurnPaused | None = None
        self.said: list[str] = []
        self.id, self.item_id = new_id("resp"), new_id("item")
        encoder = OutputEncoder(request.output_format)
        self.output = Output(self.id, self.item_id, None, encoder)  # previous item once added
        self.voice = self.options.voice or context.record.settings.voice or "default"
        self.spoken = SpokenReply()
        self.turn: Turn | None = None
        self.result: TurnResult | None = None
        self.item_started = False
        self.finished = False
        self._cancelled = False
        self.task: asyncio.Task[ResponseOutcome] | None = None
        self.outcome: ResponseOutcome | None = None  # once it has ended

    # the outbox's Owner --------------------------------------------------------
    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def sent(self, audio: AudioMark) -> None:
        self.spoken.add(audio.seconds, audio.text, audio.text_start, audio.voiced)

    # running --------------------------------------------------------------------
    def start(self) -> None:
        self.outbox.put(ev.event(ResponseCreatedEvent, response=self._object("in_progress")))
        self.task = asyncio.create_task(self._run())

    @property
    def active(self) -> bool:
        return self.task is not None and not self.finished

    async def _run(self) -> ResponseOutcome:
        failure: VoiceError | None = None
        try:
            turn = await self._begin()
            if not self.lazy:
                self._open()
            await self._speak(turn)
        except VoiceError as exc:
            failure = exc
        return await self._finish("failed" if failure else "completed", error=failure)

    # its output items (realtime/mcp_items.Place) ------------------------------------
    def reserve(self, item: BaseModel) -> tuple[int, str | None]:
        index = len(self.outputs)
        self.outputs[index] = item
        return index, self.item_list.add(item)  # type: ignore[arg-type]

    def place(self, index: int, item: BaseModel) -> None:
        self.outputs[index] = item
        self.item_list.update(item)  # type: ignore[arg-type]

    def put(self, event: BaseModel) -> None:
        self.outbox.put(event)

    def _open(self) -> None:
        """The assistant message item, after the item that is last now."""
        index, previous = self.reserve(ev.assistant_item(self.item_id, "in_progress"))
        self.output = replace(self.output, previous_item=previous, index=index)
        for opened in self.output.opened():
            self.outbox.put(opened)
        self.item_started = True

    def _called(self, event: FunctionCalled) -> None:
        """A call for the client: a function's, or an MCP call that waits for approval."""
        tools = self.session_tools
        if isinstance(tools, SessionTools) and tools.entry_of(event.call.name) is not None:
            request = approval_request(tools.label_of(event.call.name), event.call)
            requested(self, request)
            self.approvals[request.id] = event.call
            return
        item_id = new_id("item")
        self.function_calls.add(event.call.id)
        index, previous = self.reserve(call_item(item_id, event.call, "in_progress"))
        done, events = call_events(self.id, index, item_id, event.call, previous)
        self.place(index, done)
        for item_event in events:
            self.outbox.put(item_event)

    async def _begin(self) -> Turn:
        engine, record = self.context.engine, self.context.record
        if self.continuing is not None:
            outputs, runner = dict(self.continuing.outputs), self.options.tools
            for call in self.continuing.approved:
                if runner is not None:
                    outputs[call.id] = (await runner.run(call)).output
            turn = resumed(self.continuing.paused.turn, outputs)
            self.turn = replace(turn, options=self.options)
            return self.turn
        said = user_words([await item.words() for item in self.items])
        if isinstance(said, Heard):
            self.turn = engine.begin_heard(record, said, self.options)
        else:
            self.turn = await engine.begin_text(
                record, said, self.context.principal, options=self.options
            )
        return self.turn

    async def _speak(self, turn: Turn) -> None:
        step = int(MAX_DELTA_SECONDS * RATE) * 2
        mark, start = "", 0.0  # a sentence whose audio is next
        async with contextlib.aclosing(self.context.engine.run(turn)) as events:
            async for event in events:
                match event:
                    case ReplyDelta():
                        if not self.item_started:
                            self._open()
                        self.said.append(event.text)
                        self.outbox.put(self.output.text_delta(event.text), owner=self)
                    case AudioDelta():
                        if not self.item_started:
                            self._open()
                        if event.text:
                            mark, start = event.text, event.text_start
                        for i in range(0, len(event.audio), step):
                            chunk = event.audio[i : i + step]
                            seconds = len(chunk) / (BYTES_PER_MS * 1000)
                            note = AudioMark(seconds, mark, start, voiced_span(chunk))
                            self.outbox.put(self.output.audio_delta(chunk), owner=self, audio=note)
                            mark = ""
                    case FunctionCalled():
                        self._called(event)
                    case TurnPaused():
                        self.paused = event
                    case TurnDone():
                        self.result = event.result

    # ending -----------------------------------------------------------------------
    async def cancel(self, reason: str) -> bool:
        """Stop it (True), or say it had already ended (False)."""
        if self.task is None or self.finished:
            return False
        if self.result is not None or self.paused is not None:  # it ends by itself
            await asyncio.shield(self.task)
            return False
        self._cancelled = True
        watch = Stopwatch()
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        if self.finished:
            return False
        log.info(
            "realtime response cancelled",
            extra={"reason": reason, "ms": round(watch.seconds * 1000, 1)},
        )
        await self._finish("cancelled", reason=reason)
        return True

    async def _finish(
        self, status: Status, reason: str | None = None, error: VoiceError | None = None
    ) -> ResponseOutcome:
        self.finished = True
        message_id: int | None = None
        unanswered: tuple[UserItem, ...] = ()
        if status == "completed" and self.result is not None:
            transcript, message_id = self.result.reply_text, self.result.assistant_message_id
        elif status == "completed":  # paused for the client's functions: nothing stored
            transcript = "".join(self.said).strip()
        elif status == "cancelled" and self.turn is not None:
            transcript = self.spoken.heard(self.spoken.seconds)
            message_id, unanswered = await self._store_heard(transcript)
        else:  # failed, or cancelled before it began: its user items wait for the next
            transcript = self.spoken.heard(self.spoken.seconds)
            unanswered = self.items
        output: list[BaseModel] = []
        reply: Reply | None = None
        if self.item_started:
            item, closing = self.output.closed(
                "completed" if status == "completed" else "incomplete", transcript
            )
            for done in closing:
                self.outbox.put(done)
            self.item_list.update(item)
            reply = Reply(self.item_id, self.spoken, message_id)
            self.outputs[self.output.index] = item
        output += [self.outputs[i] for i in sorted(self.outputs)]
        usage = self.result.usage if self.result is not None else None
        response = self._object(status, output, reason, error, usage)
        self.outbox.put(ev.event(ResponseDoneEvent, response=response))
        paused = self.paused if status == "completed" else None
        if status == "failed" and self.continuing is not None:
            paused = self.continuing.paused  # the next response may go on with it
        approvals = self.approvals if paused is not None else {}
        self.outcome = ResponseOutcome(status, reply, unanswered, paused, approvals)
        return self.outcome

    async def _store_heard(self, heard: str) -> tuple[int | None, tuple[UserItem, ...]]:
        """The cancelled turn stored as far as it went out: the assistant message's id,
        and the user items left unanswered (all of them when nothing went out)."""
        assert self.turn is not None
        try:
            rows = await self.context.engine.store_interrupted(
                self.turn, heard, self.spoken.seconds
            )
        except VoiceError as exc:
            log.warning("interrupted turn not stored", extra={"error": exc.message})
            return None, ()
        if rows is None:
            return None, self.items
        return rows[1].id, ()

    def _object(
        self,
        status: Literal["completed", "cancelled", "failed", "in_progress"],
        output: list[BaseModel] | None = None,
        reason: str | None = None,
        error: VoiceError | None = None,
        usage: dict[str, int] | None = None,
    ) -> BaseModel:
        return ev.response_object(
            self.id,
            status,
            self.voice,
            output,
            reason,
            error,
            usage,
            self.metadata,
            self.output.encoder.format,
        )
