"""The chat capability: one Protocol with one method, `stream`: the conversation in,
the reply out as it is written (spoken text and thinking apart, usage at the end);
closing the stream stops the generation. `complete` collects a stream into one reply.
Providers raise the worker's domain errors (voice_worker.errors; an upstream's HTTP
failure through voice_worker.upstream) and never import FastAPI. Closing and warming up
are the optional capabilities of voice_worker.lifecycle."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True)
class ToolCall:
    """One call of a tool the model made (chat.tools): `arguments` is JSON text, as
    written (maybe invalid)."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class ChatMessage:
    """One message of the conversation; an assistant's may hold the tool calls it made,
    and a `tool` message is the output of the call `tool_call_id`."""

    role: Role
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str = ""


@dataclass(frozen=True)
class ChatOptions:
    max_tokens: int = 256
    temperature: float = 0.7
    model: str = ""  # "" = the provider's configured model


@dataclass(frozen=True)
class TextDelta:
    """More of what is spoken."""

    text: str


@dataclass(frozen=True)
class ThinkingDelta:
    """More of the model's reasoning: stored, never spoken."""

    text: str


@dataclass(frozen=True)
class ChatEnd:
    model: str = ""
    usage: dict[str, int] = field(default_factory=dict)


ChatEvent = TextDelta | ThinkingDelta | ChatEnd


@dataclass(frozen=True)
class ChatReply:
    text: str  # what is spoken: thinking removed
    thinking: str = ""  # the model's reasoning, stored, never spoken
    model: str = ""
    usage: dict[str, int] = field(default_factory=dict)


@runtime_checkable
class ChatProvider(Protocol):
    """One chat engine (Venice, any OpenAI-compatible server, the local SmolLM2)."""

    name: str

    def stream(
        self, messages: Sequence[ChatMessage], options: ChatOptions
    ) -> AsyncGenerator[ChatEvent, None]:
        """The reply to `messages` (oldest first, system persona first) as it is
        written: TextDelta and ThinkingDelta in order, then one ChatEnd. Closing the
        generator stops the upstream request or the local generation."""
        ...


async def complete(
    chat: ChatProvider, messages: Sequence[ChatMessage], options: ChatOptions
) -> ChatReply:
    """The whole reply of `chat.stream`."""
    text: list[str] = []
    thinking: list[str] = []
    end = ChatEnd()
    async with contextlib.aclosing(chat.stream(messages, options)) as events:
        async for event in events:
            if isinstance(event, TextDelta):
                text.append(event.text)
            elif isinstance(event, ThinkingDelta):
                thinking.append(event.text)
            else:
                end = event
    return ChatReply("".join(text).strip(), "".join(thinking).strip(), end.model, end.usage)


def upstream_name(provider: str) -> str:
    """How errors name a chat provider: `chat (venice)`."""
    return f"chat ({provider})"
