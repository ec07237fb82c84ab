"""Tool configuration (VOICE_TOOLS__*), nested in the worker's one Settings class."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr


class McpServerSettings(BaseModel):
    """One MCP server the worker calls (streamable HTTP)."""

    label: str = Field(min_length=1, description="The server's name in logs and errors.")
    url: str = Field(min_length=1, description="Its streamable HTTP endpoint (…/mcp).")
    headers: dict[str, SecretStr] = Field(
        default_factory=dict, description="HTTP headers on every request (e.g. Authorization)."
    )
    allowed_tools: list[str] | None = Field(
        None, description="The tools of it offered to the model (null: all it lists)."
    )


class ToolsSettings(BaseModel):
    """Tools the worker runs for every turn (VOICE_TOOLS__*)."""

    mcp_servers: list[McpServerSettings] = Field(
        default_factory=list,
        description='MCP servers offered to every turn (JSON: [{"label", "url", "headers", '
        '"allowed_tools"}]).',
    )
    max_calls_per_turn: int = Field(
        4, ge=0, description="Rounds of tool calls in one turn; then the model must answer."
    )
    call_timeout_seconds: float = Field(
        10.0, gt=0, description="Longest a tool call may take; then the model reads an error."
    )
    max_result_chars: int = Field(
        4000, ge=1, description="A tool's output is cut to this many characters."
    )
    list_refresh_seconds: float = Field(
        300.0, gt=0, description="How long a server's tool list is kept before it is asked again."
    )
    list_timeout_seconds: float = Field(
        5.0, gt=0, description="Longest listing a server's tools may take (then it offers none)."
    )
    allowed_mcp_urls: list[str] = Field(
        default_factory=list,
        description="MCP server URLs a realtime client may name in session.tools (exact "
        "match, a trailing / ignored; JSON list). Default none: a client names no server.",
    )
