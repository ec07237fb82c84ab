"""One MCP server as the worker sees it (tools.mcp_server), against the real thing: its
tool list cached (a new tool shows only after a refresh), the allowed tools only, and a
server that cannot be reached not asked again on every turn."""

from __future__ import annotations

import time

import pytest

from harness.processes import free_port
from tests.tools.mcp_servers import Facts, serve
from voice_worker.tools.mcp_server import McpServer, ToolFailed
from voice_worker.tools.settings import McpServerSettings


async def test_the_list_is_cached_until_a_refresh() -> None:
    facts = Facts()
    server = facts.server()
    with serve(server) as running:
        settings = McpServerSettings(label="f", url=f"{running.url}/mcp")
        mcp = McpServer(settings, list_refresh=300)
        first = {t.name for t in await mcp.tools()}
        assert first == {"weather", "echo", "slow", "secret"}

        @server.tool()
        def later() -> str:
            """Added after the first listing."""
            return "new"

        assert {t.name for t in await mcp.tools()} == first  # cached
        mcp.forget()
        assert {t.name for t in await mcp.tools()} == first | {"later"}
        assert await mcp.call("later", {}) == "new"
        only = McpServer(McpServerSettings(label="f", url=settings.url, allowed_tools=["echo"]))
        (echo,) = await only.tools()
        assert echo.name == "echo" and echo.parameters["required"] == ["text"]


async def test_an_unreachable_server_is_not_asked_on_every_turn() -> None:
    url = f"http://127.0.0.1:{free_port()}/mcp"  # nothing listens there
    mcp = McpServer(McpServerSettings(label="gone", url=url), list_timeout=5)
    with pytest.raises(ToolFailed, match="MCP server gone is unreachable: ConnectError"):
        await mcp.tools()
    start = time.monotonic()
    with pytest.raises(ToolFailed, match=r"unreachable \(retried later\)"):
        await mcp.tools()
    assert time.monotonic() - start < 0.05  # no connection tried
    with pytest.raises(ToolFailed, match="could not be called: ConnectError"):
        await mcp.call("weather", {"city": "Oslo"})
