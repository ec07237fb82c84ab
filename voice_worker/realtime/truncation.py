"""`conversation.item.truncate`: the client stopped playing an assistant item at
`audio_end_ms`, so the user heard its reply up to there. `cut` checks the request
against the item (one content part, audio as long as what went out) and finds the
words heard (conversation/heard.py); the session stores the reply cut to them, so the
history the model reads next turn is what the user heard, and answers with
`conversation.item.truncated`."""

from __future__ import annotations

import math
from dataclasses import dataclass

from openai.types.realtime import ConversationItemTruncatedEvent, ConversationItemTruncateEvent
from pydantic import BaseModel

from voice_worker.errors import InvalidRequest
from voice_worker.realtime import events as ev
from voice_worker.realtime.items import Reply


@dataclass(frozen=True)
class Cut:
    """A reply as far as it was heard."""

    heard: str  # its words up to where playback stopped
    seconds: float  # where playback stopped
    message_id: int | None  # the stored message to cut (None: nothing stored)


def cut(reply: Reply | None, event: ConversationItemTruncateEvent) -> Cut:
    """The words of `reply` (the item `event` names; None: no such item) heard up to
    `event.audio_end_ms`; InvalidRequest naming the field that does not fit."""
    if reply is None:
        raise InvalidRequest(
            f"no assistant item {event.item_id!r} in this conversation",
            param="item_id",
            code="invalid_value",
        )
    if event.content_index != 0:
        raise InvalidRequest("content_index: an item here has one part, 0", param="content_index")
    heard_ms = math.ceil(reply.spoken.seconds * 1000)
    if not 0 <= event.audio_end_ms <= heard_ms:
        raise InvalidRequest(
            f"audio_end_ms is {event.audio_end_ms}; the item's audio is {heard_ms} ms",
            param="audio_end_ms",
            code="invalid_value",
        )
    seconds = event.audio_end_ms / 1000
    return Cut(reply.spoken.heard(seconds), seconds, reply.message_id)


def truncated(event: ConversationItemTruncateEvent) -> BaseModel:
    """The server's answer to a truncation it made."""
    return ev.event(
        ConversationItemTruncatedEvent,
        item_id=event.item_id,
        content_index=0,
        audio_end_ms=event.audio_end_ms,
    )
