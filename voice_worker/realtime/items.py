"""The conversation's items as a connection keeps them: every item the client was told
of, in order and in OpenAI's shape (`ItemList`: what `conversation.item.retrieve`
answers, what `.delete` removes, and the item a new one follows, so a
`previous_item_id` always names an item that was added); the user messages waiting for
a response (`UserItem`: typed text, or audio being transcribed) and the assistant items
the client may truncate (`Reply`); what `conversation.item.create` may add (a user
message of input_text parts: `typed_text`); and what a response answers (`user_words`:
the waiting items' words as one turn)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from openai.types.realtime import (
    ConversationItem,
    RealtimeConversationItemUserMessage,
)

from voice_worker.conversation.heard import SpokenReply
from voice_worker.conversation.turn import Heard
from voice_worker.errors import InvalidRequest
from voice_worker.stt.base import Transcript

Item = ConversationItem  # messages, function calls and outputs, MCP items
#: the items a connection remembers; past it the oldest are forgotten (not retrievable)
MAX_ITEMS = 1000


class ItemList:
    """The items the client was told of (`conversation.item.added`), in order, as they
    are now (a user item gets its transcript, an assistant item its end)."""

    def __init__(self, limit: int = MAX_ITEMS) -> None:
        self.limit = limit
        self._items: dict[str, Item] = {}

    def add(self, item: Item) -> str | None:
        """`item` is the last item now; the id of the one before it (None: the first)."""
        assert item.id is not None
        previous = self.last
        self._items.pop(item.id, None)
        self._items[item.id] = item
        while len(self._items) > self.limit:
            del self._items[next(iter(self._items))]
        return previous

    def update(self, item: Item) -> None:
        """The item as it is now, in its place (nothing if it was deleted)."""
        if item.id in self._items:
            self._items[item.id] = item

    def get(self, item_id: str) -> Item | None:
        return self._items.get(item_id)

    def remove(self, item_id: str) -> bool:
        return self._items.pop(item_id, None) is not None

    @property
    def last(self) -> str | None:
        return next(reversed(self._items), None)


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


def typed_text(item: ConversationItem) -> str:
    """The words of an item the client adds: a user message's input_text parts, joined
    (not yet checked against the engine's limits)."""
    if not isinstance(item, RealtimeConversationItemUserMessage):
        raise InvalidRequest(
            "only user messages and function_call_output items can be added "
            "(item.type message with item.role user, or function_call_output)",
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
    return " ".join(texts)


def user_words(words: Sequence[tuple[str, Heard | None]]) -> str | Heard:
    """What a response answers, from its user items' words (`UserItem.words`): the
    texts joined, as heard speech when any was spoken (their audio's durations and
    transcription times summed), else as typed text; an item without words is left out."""
    texts = [text for text, _ in words if text]
    heard = [spoken for text, spoken in words if spoken is not None and text]
    if not texts:
        raise InvalidRequest(
            "there is nothing to answer: no user message with words since the last response",
            code="no_user_input",
        )
    if not heard:
        return " ".join(texts)
    joined = Transcript(" ".join(texts), duration=sum(h.transcript.duration for h in heard))
    return Heard(joined, sum(h.seconds for h in heard))
