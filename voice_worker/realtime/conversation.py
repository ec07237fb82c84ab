"""The protocol's conversation in one connection: its items in order (`items`, as the
client was told of them: what `conversation.item.retrieve` answers and `.delete`
removes; each new item follows the last one added), the user items waiting for an
answer, the response in progress, and the assistant items the client may truncate.

The user items wait for a response (automatic after a VAD turn when `create_response`,
else `response.create`), which answers them all as one turn. What an ended response
left (realtime/response.py: its reply, the user items it did not answer, first in
line again) is taken in before the conversation is next read (`_settle`). A
transcription session's conversation has no `context`: it neither takes typed items
nor responds.

Deleting an item (`conversation.item.delete`) and the stored history: the store keeps
a turn whole (its user and assistant messages), so what a deletion changes is what
has not been answered yet or what the user did not hear. A user item still waiting
for a response is dropped (its transcription stops, no response answers it, nothing is
stored). An assistant item's stored reply is cut to nothing heard, as truncating it
at 0 ms does (LiveKit deletes the item it would truncate there): the model reads
next that it said nothing. The response that is writing the item is cancelled first.
A user item already answered (or being answered) leaves the connection's items but
stays in the stored history, with the reply to it.

The client's functions: a response whose model called some leaves its turn paused
(`paused`, realtime/response.py); `conversation.item.create` of a `function_call_output`
answers one of its calls (an unknown `call_id` is an error naming it), and the next
response goes on with that turn (conversation.functions). New user words before that
store the paused turn as it stands and begin the next. An MCP call that waits for
approval is answered by an `mcp_approval_response` (approved: run at the start of the
next response; not: the model reads that it was not approved)."""

from __future__ import annotations

import asyncio
import logging

from openai.types.realtime import (
    ConversationItemCreateEvent,
    ConversationItemDeletedEvent,
    ConversationItemTruncateEvent,
    RealtimeConversationItemAssistantMessage,
    RealtimeConversationItemFunctionCallOutput,
    RealtimeMcpApprovalResponse,
)
from openai.types.realtime.realtime_server_event import ConversationItemRetrieved
from pydantic import BaseModel

from voice_worker.chat.base import ToolCall
from voice_worker.conversation.events import TurnPaused
from voice_worker.conversation.functions import resumed, waiting
from voice_worker.errors import InvalidRequest, VoiceError
from voice_worker.ratelimit.meter import spend_request
from voice_worker.realtime import events as ev
from voice_worker.realtime import truncation
from voice_worker.realtime.function_items import output_item
from voice_worker.realtime.ids import new_id
from voice_worker.realtime.items import ItemList, Reply, UserItem, typed_text
from voice_worker.realtime.mcp_items import approval_response
from voice_worker.realtime.response import Continuing, ResponseContext, ResponseRun
from voice_worker.realtime.response_request import ResponseRequest

log = logging.getLogger(__name__)
MAX_OUTPUT_CHARS = 32_000  # a function's output, as the client gives it
DENIED = "error: the user did not approve this call"


class Conversation:
    def __init__(self, context: ResponseContext | None) -> None:
        self.context = context  # what responses need (None: a transcription session)
        self.items = ItemList()
        self.pending: list[UserItem] = []
        self.response: ResponseRun | None = None
        self.settled: ResponseRun | None = None  # the last response taken in
        self.replies: dict[str, Reply] = {}
        self.paused: TurnPaused | None = None  # a turn waiting for function outputs
        self.outputs: dict[str, str] = {}  # the outputs given so far, by call id
        self.approvals: dict[str, ToolCall] = {}  # its MCP calls waiting, by request id
        self.decisions: dict[str, bool] = {}  # the client's answers, by request id

    # user items -------------------------------------------------------------------
    def add_typed(self, event: ConversationItemCreateEvent) -> None:
        """`conversation.item.create`: a user message the client typed."""
        if self.context is None:
            raise InvalidRequest(
                "a transcription session has no conversation", param="item", code="invalid_value"
            )
        if isinstance(event.item, RealtimeConversationItemFunctionCallOutput):
            self.add_output(event.item)
            return
        if isinstance(event.item, RealtimeMcpApprovalResponse):
            self.add_approval(event.item)
            return
        text = self.context.engine.check_text(typed_text(event.item), param="item.content")
        item_id = event.item.id or new_id("item")
        added = ev.user_item(item_id, text=text)
        previous = self.items.add(added)
        self.context.outbox.put(ev.item_added(added, previous))
        self.context.outbox.put(ev.item_done(added, previous))
        self.pending.append(UserItem(item_id, text=text))

    def add_output(self, item: RealtimeConversationItemFunctionCallOutput) -> None:
        """A `function_call_output`: what one of the paused turn's calls returned."""
        assert self.context is not None
        self._settle()
        calls = {call.id for call in waiting(self.paused.turn)} if self.paused else set()
        running = self.response  # a client may answer before the response is done
        if running is not None and running.active:
            calls |= running.function_calls
        if item.call_id not in calls:
            raise InvalidRequest(
                f"Tool call ID '{item.call_id}' not found in conversation.",
                param="item.call_id",
                code="invalid_value",
            )
        if len(item.output) > MAX_OUTPUT_CHARS:
            raise InvalidRequest(
                f"item.output has {len(item.output)} characters; at most {MAX_OUTPUT_CHARS}",
                param="item.output",
                code="string_above_max_length",
            )
        added = output_item(item.id or new_id("item"), item.call_id, item.output)
        previous = self.items.add(added)
        self.context.outbox.put(ev.item_added(added, previous))
        self.context.outbox.put(ev.item_done(added, previous))
        self.outputs[item.call_id] = item.output

    def add_approval(self, item: RealtimeMcpApprovalResponse) -> None:
        """An `mcp_approval_response`: the client allows (or not) an MCP call."""
        assert self.context is not None
        self._settle()
        running = self.response
        early = running.approvals if running is not None and running.active else {}
        if item.approval_request_id not in {**self.approvals, **early}:
            raise InvalidRequest(
                f"Approval request '{item.approval_request_id}' not found in conversation.",
                param="item.approval_request_id",
                code="invalid_value",
            )
        added = approval_response(item)
        previous = self.items.add(added)
        self.context.outbox.put(ev.item_added(added, previous))
        self.context.outbox.put(ev.item_done(added, previous))
        self.decisions[item.approval_request_id] = item.approve

    def _continuing(self, paused: TurnPaused) -> Continuing:
        """The paused turn, to go on with what the client gave: its outputs, its
        approvals (a call not approved gives the model an error output)."""
        outputs, approved = dict(self.outputs), []
        for request, call in self.approvals.items():
            if self.decisions.get(request):
                approved.append(call)
            else:
                outputs[call.id] = DENIED
        self.paused, self.outputs, self.approvals, self.decisions = None, {}, {}, {}
        return Continuing(paused, outputs, tuple(approved))

    def forget(self, item_id: str) -> None:
        """A transcription session's item, transcribed: nothing will answer it."""
        self.pending = [i for i in self.pending if i.id != item_id]

    # any item -------------------------------------------------------------------------
    def retrieve(self, item_id: str) -> BaseModel:
        """`conversation.item.retrieve`: the item as it is now."""
        self._settle()
        item = self.items.get(item_id)
        if item is None:
            raise InvalidRequest(
                f"Error retrieving item: the item with id '{item_id}' does not exist.",
                param="item_id",
                code="item_retrieve_invalid_item_id",
            )
        return ev.event(ConversationItemRetrieved, item=item)

    async def delete(self, item_id: str) -> BaseModel:
        """`conversation.item.delete` (what it does to the stored history: above)."""
        if self.items.get(item_id) is None:
            raise InvalidRequest(
                f"Error deleting item: the item with id '{item_id}' does not exist.",
                param="item_id",
                code="item_delete_invalid_item_id",
            )
        running = self.response
        if running is not None and running.item_id == item_id:
            await running.cancel("client_cancelled")
        self._settle()
        self.items.remove(item_id)
        waiting = next((item for item in self.pending if item.id == item_id), None)
        if waiting is not None:
            self.pending.remove(waiting)
            if waiting.heard is not None:
                waiting.heard.cancel()
        reply = self.replies.pop(item_id, None)
        if reply is not None and reply.message_id is not None and self.context is not None:
            engine, record = self.context.engine, self.context.record
            await engine.truncate_reply(record.id, reply.message_id, "", 0.0)
        return ev.event(ConversationItemDeletedEvent, item_id=item_id)

    # assistant items ------------------------------------------------------------------
    async def truncate(self, event: ConversationItemTruncateEvent) -> BaseModel:
        """`conversation.item.truncate`: the reply stored as far as it was heard; the
        event that says so."""
        running = self.response
        if running is not None and running.item_id == event.item_id:
            await running.cancel("client_cancelled")
        self._settle()
        cut = truncation.cut(self.replies.get(event.item_id), event)
        if cut.message_id is not None and self.context is not None:
            engine, record = self.context.engine, self.context.record
            await engine.truncate_reply(record.id, cut.message_id, cut.heard, cut.seconds)
        item = self.items.get(event.item_id)
        if isinstance(item, RealtimeConversationItemAssistantMessage) and item.status not in (
            None,
            "in_progress",
        ):
            self.items.update(ev.assistant_item(event.item_id, item.status, cut.heard))
        return truncation.truncated(event)

    # responses --------------------------------------------------------------------
    async def respond(self, request: ResponseRequest, automatic: bool = False) -> None:
        """A response to the waiting user items starts (`automatic`: after a VAD turn,
        which lets them wait when a response is still active)."""
        if self.context is None:
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
        self._settle()
        continuing = None
        if self.paused is not None and not self.pending:  # the outputs given: go on
            continuing = self._continuing(self.paused)
        elif self.paused is not None:  # new words instead: the paused turn is stored so
            await self._store_paused()
        items, self.pending = self.pending, []
        run = ResponseRun(
            self.context, request, items=items, item_list=self.items, continuing=continuing
        )
        self.response = run
        run.start()

    async def interrupt(self) -> None:
        """The user speaks over the response (server VAD with `interrupt_response`)."""
        if self.response is not None:
            await self.response.cancel("turn_detected")

    async def cancel(self, wanted: str | None) -> None:
        """`response.cancel` (of the response `wanted`, or of the one in progress)."""
        running = self.response
        if running is None or (wanted and wanted != running.id):
            raise cancel_not_active()
        if not await running.cancel("client_cancelled"):
            raise cancel_not_active()  # it had ended (or stored itself) already

    def _settle(self) -> None:
        """Take in what the last response left, once it has ended."""
        run = self.response
        if run is None or run.outcome is None or run is self.settled:
            return
        self.settled, outcome = run, run.outcome
        if outcome.reply is not None and self.items.get(outcome.reply.item_id) is not None:
            self.replies[outcome.reply.item_id] = outcome.reply
        # the unanswered wait again, but for those the client deleted meanwhile
        self.pending[:0] = [i for i in outcome.unanswered if self.items.get(i.id) is not None]
        if outcome.paused is not None:  # what the client answered early is kept
            calls = {call.id for call in waiting(outcome.paused.turn)}
            self.paused = outcome.paused
            self.outputs = {k: v for k, v in self.outputs.items() if k in calls}
            self.approvals = dict(outcome.approvals)
            self.decisions = {k: v for k, v in self.decisions.items() if k in self.approvals}

    async def _store_paused(self) -> None:
        if self.paused is None or self.context is None:
            return
        continuing = self._continuing(self.paused)
        try:
            turn = resumed(continuing.paused.turn, continuing.outputs)
            await self.context.engine.store_paused(turn)
        except VoiceError as exc:
            log.warning("paused turn not stored", extra={"error": exc.message})

    async def close(self) -> None:
        """The connection ended: a response in progress stops and stores nothing, and
        the transcriptions nobody will read stop."""
        if self.response is not None and self.response.task is not None:
            self.response.task.cancel()
            await asyncio.gather(self.response.task, return_exceptions=True)
        self._settle()
        await self._store_paused()
        for item in self.pending:
            if item.heard is not None:
                item.heard.cancel()


def cancel_not_active() -> InvalidRequest:
    """OpenAI's refusal of a `response.cancel` with no response to cancel, word for word:
    clients tell the race (the server cancelled or finished it first) by this text
    (LiveKit by its beginning) or code."""
    return InvalidRequest(
        "Cancellation failed: no active response found", code="response_cancel_not_active"
    )
