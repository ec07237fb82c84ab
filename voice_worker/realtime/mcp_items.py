"""The MCP items of a response (the SDK's GA types): each call the worker runs is an
`mcp_call` item (`response.output_item.added`, `conversation.item.added`,
`response.mcp_call_arguments.delta` / `.done`, `response.mcp_call.in_progress`, then
`.completed` with its output or `.failed` with its error, `response.output_item.done`,
`conversation.item.done`): `ReportedTools` runs a response's calls and says so. A
call that waits for approval is an `mcp_approval_request` item; the client's
`mcp_approval_response` answers it."""

from __future__ import annotations

from typing import Protocol

from openai.types.realtime import (
    RealtimeMcpApprovalRequest,
    RealtimeMcpApprovalResponse,
    RealtimeMcpToolCall,
    ResponseMcpCallArgumentsDelta,
    ResponseMcpCallArgumentsDone,
    ResponseMcpCallCompleted,
    ResponseMcpCallFailed,
    ResponseMcpCallInProgress,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
)
from pydantic import BaseModel

from voice_worker.chat.tools import Tool, ToolCall
from voice_worker.realtime import events as ev
from voice_worker.realtime.function_items import DELTA_CHARS
from voice_worker.realtime.ids import new_id
from voice_worker.realtime.mcp_tools import SessionTools
from voice_worker.tools.toolbox import ToolOutput


class Place(Protocol):
    """Where a response's output items go (realtime/response.py)."""

    id: str

    def reserve(self, item: BaseModel) -> tuple[int, str | None]:
        """The item's output_index, and the conversation item before it."""
        ...

    def place(self, index: int, item: BaseModel) -> None: ...

    def put(self, event: BaseModel) -> None: ...


def call_item(
    item_id: str, label: str, call: ToolCall, output: ToolOutput | None = None
) -> RealtimeMcpToolCall:
    data: dict[str, object] = {
        "id": item_id,
        "type": "mcp_call",
        "server_label": label,
        "name": call.name,
        "arguments": call.arguments if output is not None else "",
    }
    if output is not None and output.error:
        data["error"] = {"type": "tool_execution_error", "message": output.output}
    elif output is not None:
        data["output"] = output.output
    return RealtimeMcpToolCall.model_validate(data)


def approval_request(label: str, call: ToolCall) -> RealtimeMcpApprovalRequest:
    return RealtimeMcpApprovalRequest(
        id=new_id("mcpr"),
        type="mcp_approval_request",
        server_label=label,
        name=call.name,
        arguments=call.arguments,
    )


def approval_response(item: RealtimeMcpApprovalResponse) -> RealtimeMcpApprovalResponse:
    return RealtimeMcpApprovalResponse(
        id=item.id or new_id("mcpa"),
        type="mcp_approval_response",
        approval_request_id=item.approval_request_id,
        approve=item.approve,
        reason=item.reason,
    )


def requested(place: Place, request: RealtimeMcpApprovalRequest) -> None:
    """An approval request, as a response's output item."""
    index, previous = place.reserve(request)
    ids = {"response_id": place.id, "output_index": index}
    place.put(ev.event(ResponseOutputItemAddedEvent, item=request, **ids))
    place.put(ev.item_added(request, previous))
    place.put(ev.event(ResponseOutputItemDoneEvent, item=request, **ids))
    place.put(ev.item_done(request, previous))


class ReportedTools:
    """A session's tools for one response: each call run, as an mcp_call item."""

    def __init__(self, tools: SessionTools, place: Place) -> None:
        self.tools, self.place = tools, place
        self.max_rounds = tools.max_rounds

    async def offer(self) -> tuple[Tool, ...]:
        return await self.tools.offer()

    def needs_approval(self, call: ToolCall) -> bool:
        return self.tools.needs_approval(call)

    async def run(self, call: ToolCall) -> ToolOutput:
        place, label, item_id = self.place, self.tools.label_of(call.name), new_id("mcp")
        started = call_item(item_id, label, call)
        index, previous = place.reserve(started)
        ids = {"response_id": place.id, "output_index": index}
        part = {**ids, "item_id": item_id}
        place.put(ev.event(ResponseOutputItemAddedEvent, item=started, **ids))
        place.put(ev.item_added(started, previous))
        arguments = call.arguments
        for i in range(0, len(arguments), DELTA_CHARS):
            delta = arguments[i : i + DELTA_CHARS]
            place.put(ev.event(ResponseMcpCallArgumentsDelta, delta=delta, **part))
        place.put(ev.event(ResponseMcpCallArgumentsDone, arguments=arguments, **part))
        place.put(ev.event(ResponseMcpCallInProgress, item_id=item_id, output_index=index))
        output = await self.tools.run(call)
        ended = ResponseMcpCallFailed if output.error else ResponseMcpCallCompleted
        place.put(ev.event(ended, item_id=item_id, output_index=index))
        done = call_item(item_id, label, call, output)
        place.place(index, done)
        place.put(ev.event(ResponseOutputItemDoneEvent, item=done, **ids))
        place.put(ev.item_done(done, previous))
        return output
