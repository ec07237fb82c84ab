"""The chat capability: one Protocol, the messages it takes and the reply it gives, and
the errors a provider raises (each says which upstream failed and which HTTP status the
worker should answer with; providers never import FastAPI)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from voice_worker.errors import UpstreamError

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

    async def aclose(self) -> None:
        """Release connections or the loaded model."""
        ...


class ChatError(UpstreamError):
    """An upstream chat failure, rendered by the worker like every `UpstreamError`:
    502 (the upstream failed, answered badly or rejected our key), 503 (unavailable,
    overloaded, rate limited; with Retry-After when it said when), 504 (timed out)."""

    def __init__(
        self,
        upstream: str,
        message: str,
        status: int = 502,
        retry_after: float | None = None,
        code: str = "upstream_error",
    ) -> None:
        super().__init__(
            f"chat ({upstream})", message, status=status, code=code, retry_after=retry_after
        )
        self.upstream = upstream
