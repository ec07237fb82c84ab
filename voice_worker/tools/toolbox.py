"""The worker's MCP servers together: the tools a turn is offered, and running the
calls the model makes. Whatever goes wrong with a tool (a server gone, a slow call,
arguments that are no JSON object, a tool that reports an error) becomes an error
output the model reads, never a failed turn. A tool's output is untrusted text: it is
cut to `max_result_chars`, goes to the model as a `tool` message (each provider keeps
control tokens out of it, as out of what users say: chat.control, chat.local_prompt),
and reaches the logs only as sizes."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from voice_worker.chat.tools import Tool, ToolCall
from voice_worker.tools.mcp_server import McpServer, ToolFailed
from voice_worker.tools.settings import ToolsSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ToolOutput:
    """What a call returned (or why it could not), as the model reads it."""

    call: ToolCall
    output: str
    error: bool = False
    seconds: float = 0.0


class ToolBox:
    def __init__(
        self, servers: Sequence[McpServer], max_result_chars: int = 4000, max_rounds: int = 4
    ) -> None:
        self.servers = list(servers)
        self.max_result_chars = max_result_chars
        self.max_rounds = max_rounds  # rounds of calls in one turn
        self._owner: dict[str, McpServer] = {}

    @classmethod
    def from_settings(cls, settings: ToolsSettings) -> ToolBox:
        servers = [
            McpServer(
                server,
                settings.call_timeout_seconds,
                settings.list_refresh_seconds,
                settings.list_timeout_seconds,
            )
            for server in settings.mcp_servers
        ]
        return cls(servers, settings.max_result_chars, settings.max_calls_per_turn)

    async def offer(self) -> tuple[Tool, ...]:
        """Every server's tools (the first server with a name has it); a server that
        cannot list them offers none this turn."""
        listed = await asyncio.gather(*(s.tools() for s in self.servers), return_exceptions=True)
        offered: dict[str, Tool] = {}
        for server, tools in zip(self.servers, listed, strict=True):
            if isinstance(tools, BaseException):
                log.warning(
                    "mcp tools not listed", extra={"server": server.label, "why": str(tools)}
                )
                continue
            for tool in tools:
                if tool.name not in offered:
                    offered[tool.name] = tool
                    self._owner[tool.name] = server
        return tuple(offered.values())

    def owner(self, name: str) -> McpServer | None:
        """The server whose tool `name` is (as last offered)."""
        return self._owner.get(name)

    async def run(self, call: ToolCall) -> ToolOutput:
        start = time.monotonic()
        try:
            output, error = await self._run(call), False
        except ToolFailed as exc:
            output, error = f"error: {exc}", True
        if len(output) > self.max_result_chars:
            output = output[: self.max_result_chars] + " …(cut)"
        seconds = time.monotonic() - start
        log.info(
            "tool call",
            extra={
                "tool": call.name,
                "arguments_chars": len(call.arguments),
                "output_chars": len(output),
                "error": error,
                "seconds": round(seconds, 4),
            },
        )
        return ToolOutput(call, output, error, seconds)

    async def _run(self, call: ToolCall) -> str:
        server = self._owner.get(call.name)
        if server is None:
            raise ToolFailed(f"there is no tool named {call.name!r}")
        try:
            arguments = json.loads(call.arguments or "{}")
        except ValueError:
            raise ToolFailed("the arguments are not valid JSON") from None
        if not isinstance(arguments, dict):
            raise ToolFailed("the arguments must be a JSON object")
        try:
            return await server.call(call.name, arguments)
        except ToolFailed:
            server.forget()  # the server may have changed or gone: list again next turn
            raise
