"""The chat capability: one Protocol, the messages it takes and the reply it gives.
Providers raise the worker's domain errors (voice_worker.errors; an upstream's HTTP
failure through voice_worker.upstream) and never import FastAPI. Closing and warming up
are the optional capabilities of voice_worker.lifecycle."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str


@dataclass(frozen=True)
class ChatOptions:
    max_tokens: int = 256
    temperature: float = 0.7
    model: str = ""  # "" = the provider's configured model


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

    async def complete(self, messages: Sequence[ChatMessage], options: ChatOptions) -> ChatReply:
        """The assistant's reply to `messages` (oldest first, system persona first)."""
        ...


def upstream_name(provider: str) -> str:
    """How errors name a chat provider: `chat (venice)`."""
    return f"chat ({provider})"
