"""The items and events of the client's functions in a response (the SDK's GA types):
a `function_call` item the model made (`response.output_item.added`, `conversation.
item.added`, its arguments in `response.function_call_arguments.delta` pieces and
`.done`, `response.output_item.done`, `conversation.item.done`), and the client's
`function_call_output` item as the conversation keeps it."""

from __future__ import annotations

from openai.types.realtime import (
    RealtimeConversationItemFunctionCall,
    RealtimeConversationItemFunctionCallOutput,
    ResponseFunctionCallArgumentsDeltaEvent,
    ResponseFunctionCallArgumentsDoneEvent,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
)
from pydantic import BaseModel

from voice_worker.chat.base import ToolCall
from voice_worker.realtime import events as ev

DELTA_CHARS = 32  # the arguments go out in pieces of this size, as they would stream


def call_item(
    item_id: str, call: ToolCall, status: ev.Status
) -> RealtimeConversationItemFunctionCall:
    return RealtimeConversationItemFunctionCall.model_validate(
        {
            "id": item_id,
            "object": "realtime.item",
            "type": "function_call",
            "status": status,
            "call_id": call.id,
            "name": call.name,
            "arguments": call.arguments if status == "completed" else "",
        }
    )


def output_item(
    item_id: str, call_id: str, output: str
) -> RealtimeConversationItemFunctionCallOutput:
    return RealtimeConversationItemFunctionCallOutput.model_validate(
        {
            "id": item_id,
            "object": "realtime.item",
            "type": "function_call_output",
            "status": "completed",
            "call_id": call_id,
            "output": output,
        }
    )


def call_events(
    response_id: str, output_index: int, item_id: str, call: ToolCall, previous: str | None
) -> tuple[RealtimeConversationItemFunctionCall, list[BaseModel]]:
    """The call's item once done, and every event of it, in order."""
    ids = {"response_id": response_id, "output_index": output_index}
    started, done = call_item(item_id, call, "in_progress"), call_item(item_id, call, "completed")
    arguments = call.arguments
    pieces = [arguments[i : i + DELTA_CHARS] for i in range(0, len(arguments), DELTA_CHARS)]
    part = {**ids, "item_id": item_id, "call_id": call.id}
    return done, [
        ev.event(ResponseOutputItemAddedEvent, item=started, **ids),
        ev.item_added(started, previous),
        *(ev.event(ResponseFunctionCallArgumentsDeltaEvent, delta=p, **part) for p in pieces),
        ev.event(
            ResponseFunctionCallArgumentsDoneEvent, arguments=arguments, name=call.name, **part
        ),
        ev.event(ResponseOutputItemDoneEvent, item=done, **ids),
        ev.item_done(done, previous),
    ]
