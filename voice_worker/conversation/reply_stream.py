"""The chat side of a turn: a reply that must say something speakable, and a cached
reply told again as if it were being written."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator

from shared.speakable import has_speakable
from voice_worker.chat.base import (
    ChatEnd,
    ChatEvent,
    ChatReply,
    TextDelta,
    ThinkingDelta,
    ToolCall,
    upstream_name,
)
from voice_worker.errors import UpstreamFailed


async def speakable_only(
    events: AsyncGenerator[ChatEvent | ToolCall, None], provider: str
) -> AsyncGenerator[ChatEvent | ToolCall, None]:
    """The chat's events; at the end, UpstreamFailed if it said nothing speakable (a
    reply that calls a client's function may say nothing)."""
    said, thought, called = [], False, False
    async with contextlib.aclosing(events):
        async for event in events:
            if isinstance(event, TextDelta):
                said.append(event.text)
            thought = thought or isinstance(event, ThinkingDelta)
            called = called or isinstance(event, ToolCall)
            yield event
    if not called and not has_speakable("".join(said)):
        raise UpstreamFailed(
            upstream_name(provider),
            "answered with no text to speak" + (" (only thinking)" if thought else ""),
            code="upstream_empty_reply",
        )


async def replayed(reply: ChatReply) -> AsyncGenerator[ChatEvent, None]:
    """A cached reply, as if it were being written."""
    if reply.thinking:
        yield ThinkingDelta(reply.thinking)
    yield TextDelta(reply.text)
    yield ChatEnd(reply.model, reply.usage)
