"""The conversation's items as a connection keeps them: the user messages waiting for a
response (`UserItem`: typed text, or audio being transcribed) and the assistant items
the client may truncate (`Reply`); what `conversation.item.create` may add (a user
message of input_text parts: `typed_text`); and what a response answers (`user_words`:
the waiting items' words as one turn)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from openai.types.realtime import ConversationItem, RealtimeConversationItemUserMessage

from voice_worker.conversation.heard import SpokenReply
from voice_worker.conversation.turn import Heard
from voice_worker.errors import InvalidRequest
from voice_worker.stt.base import Transcript


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
