"""The protocol's conversation in one connection: its items in order (`follow`: each
new item comes after `last_item`), the user items waiting for an answer, the response
in progress, and the assistant items the client may truncate.

The user items wait for a response (automatic after a VAD turn when `create_response`,
else `response.create`), which answers them all as one turn. What an ended response
left (realtime/response.py: its reply, the user items it did not answer, first in
line again) is taken in before the conversation is next read (`_settle`). A
transcription session's conversation has no `context`: it neither takes typed items
nor responds."""

from __future__ import annotations

import asyncio

from openai.types.realtime import ConversationItemCreateEvent, ConversationItemTruncateEvent
from pydantic import BaseModel

from voice_worker.errors import InvalidRequest
from voice_worker.ratelimit.meter import spend_request
from voice_worker.realtime import events as ev
from voice_worker.realtime import truncation
from voice_worker.realtime.ids import new_id
from voice_worker.realtime.items import Reply, UserItem, typed_text
from voice_worker.realtime.response import ResponseContext, ResponseRun
from voice_worker.realtime.response_request import ResponseRequest


class Conversation:
    def __init__(self, context: ResponseContext | None) -> None:
        self.context = context  # what responses need (None: a transcription session)
        self.pending: list[UserItem] = []
        self.last_item: str | None = None
        self.response: ResponseRun | None = None
        self.settled: ResponseRun | None = None  # the last response taken in
        self.replies: dict[str, Reply] = {}

    def follow(self, item_id: str) -> str | None:
        """`item_id` is the conversation's last item now: the one before it."""
        previous, self.last_item = self.last_item, item_id
        return previous

    # user items -------------------------------------------------------------------
    def add_typed(self, event: ConversationItemCreateEvent) -> None:
        """`conversation.item.create`: a user message the client typed."""
        if self.context is None:
            raise InvalidRequest(
                "a transcription session has no conversation", param="item", code="invalid_value"
            )
        text = self.context.engine.check_text(typed_text(event.item), param="item.content")
        item_id = event.item.id or new_id("item")
        previous = self.follow(item_id)
        added = ev.user_item(item_id, text=text)
        self.context.outbox.put(ev.item_added(added, previous))
        self.context.outbox.put(ev.item_done(added, previous))
        self.pending.append(UserItem(item_id, text=text))

    def forget(self, item_id: str) -> None:
        """A transcription session's item, transcribed: nothing will answer it."""
        self.pending = [i for i in self.pending if i.id != item_id]

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
        items, self.pending = self.pending, []
        run = ResponseRun(self.context, request, items=items, previous_item=self.last_item)
        self.follow(run.item_id)
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
            raise InvalidRequest(
                "there is no response in progress to cancel",
                param="response_id" if wanted else None,
                code="response_cancel_not_active",
            )
        if not await running.cancel("client_cancelled"):
            raise InvalidRequest(
                "the response had already ended", code="response_cancel_not_active"
            )

    def _settle(self) -> None:
        """Take in what the last response left, once it has ended."""
        run = self.response
        if run is None or run.outcome is None or run is self.settled:
            return
        self.settled, outcome = run, run.outcome
        if outcome.reply is not None:
            self.replies[outcome.reply.item_id] = outcome.reply
        self.pending[:0] = outcome.unanswered

    async def close(self) -> None:
        """The connection ended: a response in progress stops and stores nothing, and
        the transcriptions nobody will read stop."""
        if self.response is not None and self.response.task is not None:
            self.response.task.cancel()
            await asyncio.gather(self.response.task, return_exceptions=True)
        self._settle()
        for item in self.pending:
            if item.heard is not None:
                item.heard.cancel()
