"""Tools a chat model may call, in OpenAI's chat-completions shapes: a `Tool` offered
(a function: name, description, JSON-schema parameters), how the model may choose
(`ToolChoice`: auto, none, required, or one function by name), and a `ToolCall` it made
(its id, the function's name, the arguments as the JSON text the model wrote).

Calling tools is an optional capability: a provider that can take tools is
`SupportsTools` (checked with isinstance, never probed); its `stream_tools` streams the
reply as `stream` does, with a ToolCall event, complete, for each call the model made,
before the ChatEnd. Running the calls is not the provider's business (voice_worker.tools
runs a turn's calls and feeds their outputs back as `tool` messages)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from voice_worker.chat.base import ChatEvent, ChatMessage, ChatOptions, ToolCall

__all__ = [
    "NamedTool",
    "SupportsTools",
    "Tool",
    "ToolCall",
    "ToolChatEvent",
    "ToolChoice",
    "ToolOffer",
    "wire_choice",
]


@dataclass(frozen=True)
class Tool:
    """One function the model may call (OpenAI's `{"type": "function", "function": ...}`)."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})

    def wire(self) -> dict[str, Any]:
        """As OpenAI's chat completions take it in `tools`."""
        function = {"name": self.name, "parameters": self.parameters}
        if self.description:
            function["description"] = self.description
        return {"type": "function", "function": function}


@dataclass(frozen=True)
class NamedTool:
    """`tool_choice` naming one function: the model must call it."""

    name: str


ToolChoice = Literal["auto", "none", "required"] | NamedTool


def wire_choice(choice: ToolChoice) -> str | dict[str, Any]:
    """`tool_choice` as OpenAI's chat completions take it."""
    if isinstance(choice, NamedTool):
        return {"type": "function", "function": {"name": choice.name}}
    return choice


@dataclass(frozen=True)
class ToolOffer:
    """The tools offered to one request, and how the model may choose among them."""

    tools: tuple[Tool, ...]
    choice: ToolChoice = "auto"

    def forced(self) -> Tool | None:
        """The one tool the model must call, when the choice leaves it no other."""
        if isinstance(self.choice, NamedTool):
            return next((t for t in self.tools if t.name == self.choice.name), None)
        if self.choice == "required" and len(self.tools) == 1:
            return self.tools[0]
        return None


ToolChatEvent = ChatEvent | ToolCall


@runtime_checkable
class SupportsTools(Protocol):
    """A chat provider that can offer tools to its model."""

    def stream_tools(
        self, messages: Sequence[ChatMessage], options: ChatOptions, offer: ToolOffer
    ) -> AsyncGenerator[ToolChatEvent, None]:
        """As `ChatProvider.stream`, with `offer`'s tools: the text and thinking the model
        writes (before a call too), each ToolCall it made once complete, then one
        ChatEnd."""
        ...
