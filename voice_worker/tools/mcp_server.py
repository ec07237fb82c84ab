"""One MCP server the worker calls, over streamable HTTP, with the official `mcp`
package's client (on its HTTP client, httpx2). Each use opens its own connection (a few
milliseconds on a local network: no session to keep alive or to lose when the server
restarts). The tool list is cached for `list_refresh_seconds` (a failed listing is
retried on the next turn); a call has a timeout and its output a size limit. Failures
raise ToolFailed, whose message is safe for the model to read (it names no header)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult, TextContent

from voice_worker.chat.tools import Tool
from voice_worker.tools.settings import McpServerSettings

RETRY_SECONDS = 30.0  # a server whose listing failed is asked again after this long


class ToolFailed(Exception):
    """A tool could not answer; the message is what the model reads."""


class McpServer:
    def __init__(
        self,
        settings: McpServerSettings,
        call_timeout: float = 10.0,
        list_refresh: float = 300.0,
        list_timeout: float = 5.0,
    ) -> None:
        self.label, self.url = settings.label, settings.url
        self.allowed = None if settings.allowed_tools is None else set(settings.allowed_tools)
        self._headers = {k: v.get_secret_value() for k, v in settings.headers.items()}
        self.call_timeout, self.list_refresh, self.list_timeout = (
            call_timeout, list_refresh, list_timeout
        )  # fmt: skip
        self._tools: tuple[Tool, ...] = ()
        self._listed_at = self._failed_at = -float("inf")
        self._listing = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def _client(self) -> AsyncIterator[Client]:
        async with (
            httpx2.AsyncClient(headers=self._headers, timeout=self.call_timeout) as http,
            Client(streamable_http_client(self.url, http_client=http)) as client,
        ):
            yield client

    async def tools(self) -> tuple[Tool, ...]:
        """The tools it offers (those allowed), from the cache while it is fresh. A
        listing that failed is not tried again for RETRY_SECONDS (at most the refresh
        time): a server gone costs a turn nothing meanwhile."""
        async with self._listing:  # one listing at a time; the others read its result
            now = time.monotonic()
            if now - self._listed_at < self.list_refresh:
                return self._tools
            if now - self._failed_at < min(RETRY_SECONDS, self.list_refresh):
                raise ToolFailed(f"MCP server {self.label} is unreachable (retried later)")
            try:
                self._tools = await asyncio.wait_for(self._list(), self.list_timeout)
            except asyncio.TimeoutError:
                self._failed_at = time.monotonic()
                raise ToolFailed(
                    f"MCP server {self.label} did not list its tools in time"
                ) from None
            except Exception as exc:
                self._failed_at = time.monotonic()
                raise ToolFailed(f"MCP server {self.label} is unreachable: {_kind(exc)}") from exc
            self._listed_at = time.monotonic()
            return self._tools

    async def _list(self) -> tuple[Tool, ...]:
        found: list[Tool] = []
        async with self._client() as client:
            cursor: str | None = None
            while True:
                page = await client.list_tools(cursor=cursor)
                found += [
                    Tool(t.name, t.description or "", dict(t.input_schema))
                    for t in page.tools
                    if self.allowed is None or t.name in self.allowed
                ]
                cursor = page.next_cursor
                if not cursor:
                    return tuple(found)

    async def _call(self, name: str, arguments: dict[str, Any]) -> CallToolResult:
        async with self._client() as client:
            return await client.call_tool(name, arguments)

    def forget(self) -> None:
        """The next `tools` asks the server again."""
        self._listed_at = self._failed_at = -float("inf")

    async def call(self, name: str, arguments: dict[str, Any]) -> str:
        """The tool's output as text; ToolFailed when it failed, was slow or is gone."""
        try:
            result = await asyncio.wait_for(self._call(name, arguments), self.call_timeout)
        except asyncio.TimeoutError:
            raise ToolFailed(f"{name} did not answer within {self.call_timeout:g} s") from None
        except Exception as exc:
            raise ToolFailed(f"{name} could not be called: {_kind(exc)}") from exc
        text = "\n".join(block.text for block in result.content if isinstance(block, TextContent))
        if result.is_error:
            raise ToolFailed(f"{name} failed: {text or 'no reason given'}")
        return text


def _kind(exc: BaseException) -> str:
    """What went wrong, without the request it went wrong in (no headers, no URL): the
    first cause's kind (a task group's error wraps it)."""
    if sys.version_info >= (3, 11):
        while isinstance(exc, BaseExceptionGroup) and exc.exceptions:  # noqa: F821
            exc = exc.exceptions[0]
    return type(exc).__name__
