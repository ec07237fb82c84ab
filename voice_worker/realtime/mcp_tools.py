"""The tools a realtime session's turns may use, run by the worker: the MCP servers
the client named (realtime/mcp_config.py; each an McpServer of voice_worker.tools:
its timeout, result size limit and error outputs), then the worker's own servers
unless the session switched them off. `configure` takes a session's entries (a server
named again with the same URL, headers and allowed tools is kept, its listing too);
`listed` lists a new server's tools as the `mcp_list_tools` item and its events say
(`.in_progress`, then `.completed` or `.failed`). A call of a session server's tool
that needs approval waits for the client (`needs_approval`, tools.loop)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from openai.types.realtime import (
    McpListToolsCompleted,
    McpListToolsFailed,
    McpListToolsInProgress,
    RealtimeMcpListTools,
)
from pydantic import BaseModel, SecretStr

from voice_worker.chat.tools import Tool, ToolCall
from voice_worker.realtime import events as ev
from voice_worker.realtime.ids import new_id
from voice_worker.realtime.items import ItemList
from voice_worker.realtime.mcp_config import McpOffer, SessionMcp
from voice_worker.tools.loop import ToolRunner
from voice_worker.tools.mcp_server import McpServer, ToolFailed
from voice_worker.tools.settings import McpServerSettings, ToolsSettings
from voice_worker.tools.toolbox import ToolBox, ToolOutput

Put = Callable[[BaseModel], None]
WORKER_LABEL = "worker"


class SessionTools:
    def __init__(self, worker: ToolRunner | None, settings: ToolsSettings) -> None:
        self.worker, self.settings = worker, settings
        self.max_rounds = settings.max_calls_per_turn
        self.entries: dict[SessionMcp, McpServer] = {}
        self.box = ToolBox([], settings.max_result_chars, settings.max_calls_per_turn)
        self.worker_on = True
        self._worker_names: set[str] = set()

    @property
    def active(self) -> bool:
        """Whether a turn must be given these tools (not just the worker's)."""
        return bool(self.entries) or not self.worker_on

    def configure(self, offer: McpOffer) -> list[tuple[SessionMcp, McpServer]]:
        """The session's servers now; those new to it (to be listed)."""
        kept = {e: s for e, s in self.entries.items() if e in offer.servers}
        new = [(e, self._server(e)) for e in offer.servers if e not in kept]
        self.entries = {**kept, **dict(new)}
        self.box.servers = [self.entries[e] for e in offer.servers]
        self.worker_on = offer.worker
        return new

    def _server(self, entry: SessionMcp) -> McpServer:
        settings = McpServerSettings(
            label=entry.label,
            url=entry.url,
            headers={k: SecretStr(v) for k, v in entry.headers},
            allowed_tools=None if entry.allowed_tools is None else list(entry.allowed_tools),
        )
        s = self.settings
        return McpServer(
            settings, s.call_timeout_seconds, s.list_refresh_seconds, s.list_timeout_seconds
        )

    # the ToolRunner of the session's turns ----------------------------------------
    async def offer(self) -> tuple[Tool, ...]:
        own = await self.box.offer()
        theirs: tuple[Tool, ...] = ()
        if self.worker_on and self.worker is not None:
            theirs = await self.worker.offer()
        names = {tool.name for tool in own}
        extra = tuple(tool for tool in theirs if tool.name not in names)
        self._worker_names = {tool.name for tool in extra}
        return (*own, *extra)

    async def run(self, call: ToolCall) -> ToolOutput:
        if self.worker is not None and call.name in self._worker_names:
            return await self.worker.run(call)
        return await self.box.run(call)

    def needs_approval(self, call: ToolCall) -> bool:
        entry = self.entry_of(call.name)
        return entry is not None and entry.needs_approval(call.name)

    def entry_of(self, name: str) -> SessionMcp | None:
        if name in self._worker_names:
            return None
        server = self.box.owner(name)
        return next((e for e, s in self.entries.items() if s is server), None)

    def label_of(self, name: str) -> str:
        """The server_label an mcp_call item names."""
        entry = self.entry_of(name)
        return WORKER_LABEL if entry is None else entry.label


async def listed(entry: SessionMcp, server: McpServer, put: Put, items: ItemList) -> None:
    """List `server`'s tools, as the mcp_list_tools item (in `items`) and its events
    say."""
    item_id = new_id("mcpl")
    item = RealtimeMcpListTools(
        id=item_id, type="mcp_list_tools", server_label=entry.label, tools=[]
    )
    previous = items.add(item)
    put(ev.item_added(item, previous))
    put(ev.event(McpListToolsInProgress, item_id=item_id))
    try:
        tools = await server.tools()
    except (ToolFailed, asyncio.TimeoutError):
        put(ev.event(McpListToolsFailed, item_id=item_id))
        put(ev.item_done(item, previous))
        return
    listed_tools = [
        {"name": t.name, "description": t.description, "input_schema": t.parameters} for t in tools
    ]
    done = RealtimeMcpListTools.model_validate(
        {
            "id": item_id,
            "type": "mcp_list_tools",
            "server_label": entry.label,
            "tools": listed_tools,
        }
    )
    items.update(done)
    put(ev.event(McpListToolsCompleted, item_id=item_id))
    put(ev.item_done(done, previous))
