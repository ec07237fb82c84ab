"""Real MCP servers for the tests, from the `mcp` package (its MCPServer over
streamable HTTP on 127.0.0.1, in a thread): what they hold, and what they were asked."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from mcp.server.mcpserver import Context, MCPServer

from harness.servers import ThreadServer


@dataclass
class Facts:
    """The `facts` server's tools; `calls` what they were called with."""

    calls: list[tuple[str, dict[str, object]]] = field(default_factory=list)
    authorization: list[str] = field(default_factory=list)  # the header of each call

    def server(self) -> MCPServer:
        server = MCPServer("facts")

        @server.tool()
        def weather(city: str, ctx: Context) -> str:
            """The weather in a city, now."""
            self.calls.append(("weather", {"city": city}))
            self.authorization.append((ctx.headers or {}).get("authorization", ""))
            return f"Sunny in {city}, 21 degrees."

        @server.tool()
        def echo(text: str) -> str:
            """Says `text` back."""
            self.calls.append(("echo", {"text": text}))
            return text

        @server.tool()
        def slow() -> str:
            """Takes its time."""
            time.sleep(3)  # longer than the worker's call timeout in these tests
            return "Too late."

        @server.tool()
        def secret() -> str:
            """Not allowed to the worker (allowed_tools)."""
            return "never"

        return server


def serve(server: MCPServer) -> ThreadServer:
    """The server's streamable HTTP app (at /mcp), to start with `with`."""
    return ThreadServer(server.streamable_http_app())
