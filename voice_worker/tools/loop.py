"""A turn's tool rounds: the model is offered the tools; when it calls some, they run
(side by side), their outputs go back to it as `tool` messages, and it is asked again,
at most `max_rounds` times; the last request lets it call none (`tool_choice: none`),
so it must answer. What it says before a call ("let me check") streams as it is
written, like the answer; the calls and their outputs are kept in the `ToolTrace`.

A client's functions (the realtime protocol's function tools) are offered with the
worker's tools, under the client's `tool_choice` in the first round; a call of one
is not run here: it is yielded (a ToolCall) and the rounds end, the model's messages
so far kept in the trace (`history`), to go on once the client has given the outputs
(a turn paused: conversation.functions); so is a call that waits for the user's
approval (`SupportsApproval`)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from voice_worker.chat.base import (
    ChatEnd,
    ChatEvent,
    ChatMessage,
    ChatOptions,
    ChatProvider,
    TextDelta,
)
from voice_worker.chat.tools import SupportsTools, Tool, ToolCall, ToolChoice, ToolOffer
from voice_worker.tools.toolbox import ToolOutput


class ToolRunner(Protocol):
    """The tools of a turn (voice_worker.tools.toolbox.ToolBox)."""

    max_rounds: int

    async def offer(self) -> tuple[Tool, ...]: ...

    async def run(self, call: ToolCall) -> ToolOutput: ...


@runtime_checkable
class SupportsApproval(Protocol):
    """Tools of which some calls wait for the user's approval (a realtime session's MCP
    servers, `require_approval`): such a call ends the rounds as a client's does."""

    def needs_approval(self, call: ToolCall) -> bool: ...


@dataclass
class ToolTrace:
    """What a turn's tools did: every call's output, in order, and their time."""

    outputs: list[ToolOutput] = field(default_factory=list)
    rounds: int = 0
    seconds: float = 0.0  # waiting for tools (a round's calls run side by side)
    #: the messages the rounds added (calls and outputs), when a client's call ended them
    history: list[ChatMessage] = field(default_factory=list)

    def stored(self) -> list[dict[str, Any]]:
        """The calls as the reply's message keeps them (JSON)."""
        return [
            {
                "id": o.call.id,
                "name": o.call.name,
                "arguments": o.call.arguments,
                "output": o.output,
                "error": o.error,
            }
            for o in self.outputs
        ]


def replayed_calls(stored: Sequence[dict[str, Any]], answer: str) -> list[ChatMessage]:
    """A stored reply with tool calls, as the model saw it: its calls, their outputs,
    then what it answered."""
    calls = tuple(
        ToolCall(str(c.get("id", "")), str(c.get("name", "")), str(c.get("arguments", "")))
        for c in stored
    )
    outputs = [
        ChatMessage("tool", str(c.get("output", "")), tool_call_id=call.id)
        for c, call in zip(stored, calls, strict=True)
    ]
    return [ChatMessage("assistant", "", calls), *outputs, ChatMessage("assistant", answer)]


async def with_tools(
    chat: ChatProvider,
    messages: Sequence[ChatMessage],
    options: ChatOptions,
    runner: ToolRunner | None,
    trace: ToolTrace,
    functions: ToolOffer | None = None,
) -> AsyncGenerator[ChatEvent | ToolCall, None]:
    """The reply to `messages`, the tools' rounds in it; a provider that takes no tools,
    or no tool on offer (or `functions` choosing none), is asked as usual. A call of one
    of `functions` is yielded, and ends the reply."""
    takes = isinstance(chat, SupportsTools) and not (functions and functions.choice == "none")
    own = await runner.offer() if runner is not None and takes else ()
    theirs = functions.tools if functions is not None and takes else ()
    names = {tool.name for tool in theirs}
    tools = (*theirs, *(tool for tool in own if tool.name not in names))
    if not isinstance(chat, SupportsTools) or not tools:
        async with contextlib.aclosing(chat.stream(messages, options)) as plain:
            async for item in plain:
                yield item
        return
    max_rounds = runner.max_rounds if runner is not None else 1
    history, usage, model, spoke = list(messages), dict[str, int](), "", False
    for round_ in range(max_rounds + 1):
        choice: ToolChoice = "auto" if round_ < max_rounds else "none"
        if round_ == 0 and functions is not None:
            choice = functions.choice
        said: list[str] = []
        calls: list[ToolCall] = []
        events = chat.stream_tools(history, options, ToolOffer(tools, choice))
        async with contextlib.aclosing(events):
            async for event in events:
                if isinstance(event, ToolCall):
                    calls.append(event)
                elif isinstance(event, ChatEnd):
                    model = event.model or model
                    for key, value in event.usage.items():
                        usage[key] = usage.get(key, 0) + value
                elif isinstance(event, TextDelta):
                    text = event.text
                    if spoke and not said and text[:1] and not text[:1].isspace():
                        text = " " + text  # the answer after what was said before a call
                    said.append(text)
                    yield TextDelta(text)
                else:
                    yield event
        spoke = spoke or bool("".join(said).strip())
        if not calls or choice == "none":
            break
        asks = runner.needs_approval if isinstance(runner, SupportsApproval) else None
        paused = [c for c in calls if c.name in names or (asks is not None and asks(c))]
        ours = [call for call in calls if call not in paused]
        start = time.monotonic()
        outputs = await asyncio.gather(*(runner.run(c) for c in ours)) if runner else []
        trace.seconds += time.monotonic() - start
        trace.rounds += 1
        trace.outputs += outputs
        history.append(ChatMessage("assistant", "".join(said).strip(), tuple(calls)))
        history += [ChatMessage("tool", o.output, tool_call_id=o.call.id) for o in outputs]
        if len(ours) < len(calls):  # the client runs the rest: the reply ends here
            trace.history = history[len(messages) :]
            for call in paused:
                yield call
            break
    yield ChatEnd(model, usage)
