"""A turn paused for a client's functions (the realtime protocol's function tools):
the model called some (conversation.events.FunctionCalled), the turn ended without
being stored (TurnPaused), and once the client has given their outputs it goes on
(`resumed`: the same user message, the calls and outputs after it, a fresh clock),
as many times as the model calls again. The turn is stored when the model answers:
its user message, and one assistant message holding all it said and every call with
its output (`stored_calls`, as the worker's own tool calls are: migration 6); the
model reads them back in the next turn's history. A turn the client leaves paused
(new words instead of outputs, or gone) is stored as it stands (`store_paused`)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from shared.logs import Stopwatch
from voice_worker.chat.base import ChatMessage, ToolCall
from voice_worker.conversation.turn import Turn
from voice_worker.store.base import NewMessage

NO_OUTPUT = "(the function gave no output)"


def waiting(turn: Turn) -> tuple[ToolCall, ...]:
    """The calls of the turn's last round (those the outputs answer)."""
    for message in reversed(turn.continued):
        if message.role == "assistant" and message.tool_calls:
            return message.tool_calls
    return ()


def resumed(turn: Turn, outputs: dict[str, str]) -> Turn:
    """`turn` with the outputs of its waiting calls (by call id; one not given: none),
    to be run again."""
    answered = {m.tool_call_id for m in turn.continued if m.role == "tool"}
    given = [
        ChatMessage("tool", outputs.get(call.id, NO_OUTPUT), tool_call_id=call.id)
        for call in waiting(turn)
        if call.id not in answered
    ]
    return replace(turn, continued=(*turn.continued, *given), watch=Stopwatch(), timings={})


def stored_calls(continued: tuple[ChatMessage, ...]) -> list[dict[str, Any]]:
    """The calls of `continued` with their outputs, as a reply's message keeps them."""
    outputs = {m.tool_call_id: m.content for m in continued if m.role == "tool"}
    return [
        {
            "id": call.id,
            "name": call.name,
            "arguments": call.arguments,
            "output": outputs.get(call.id, NO_OUTPUT),
            "error": False,
        }
        for m in continued
        for call in m.tool_calls
    ]


def said_before(turn: Turn, answer: str = "") -> str:
    """What the model said in the turn's earlier rounds, then `answer`."""
    said = [m.content for m in turn.continued if m.role == "assistant" and m.content]
    return " ".join([*said, answer] if answer else said).strip()


def paused_reply(turn: Turn) -> NewMessage:
    """The assistant message of a turn left paused."""
    return NewMessage(
        "assistant",
        said_before(turn),
        audio_format=turn.speech().format.value,
        timings={**turn.timings, "paused": 1.0},
        tool_calls=stored_calls(turn.continued),
    )
