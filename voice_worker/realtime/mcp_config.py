"""A realtime session's MCP servers (`session.tools` entries of type `mcp`, OpenAI's
shape), checked: a `server_url` the worker allows (`VOICE_TOOLS__ALLOWED_MCP_URLS`,
exact, a trailing / ignored; else an error naming the URL: otherwise any client could
make the worker call any address), a label once in the list, `allowed_tools` (a list
or a filter's `tool_names`), `headers`, and `require_approval` (`never`, `always`, or
a filter naming the tools that need it or not; OpenAI's default: always).

The worker's own servers (VOICE_TOOLS__MCP_SERVERS) are offered to a session unless
it switches them off with an entry `{"type": "mcp", "server_label": "worker",
"allowed_tools": []}` (no `server_url`: the label names the worker's servers)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from voice_worker.errors import InvalidRequest

WORKER = "worker"  # the label that names the worker's own servers


@dataclass(frozen=True)
class SessionMcp:
    """One MCP server a client named."""

    label: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    allowed_tools: tuple[str, ...] | None = None
    approval: str = "always"  # never | always: for the tools the filters do not name
    never: frozenset[str] = field(default_factory=frozenset)
    always: frozenset[str] = field(default_factory=frozenset)

    def needs_approval(self, tool: str) -> bool:
        if tool in self.never:
            return False
        return tool in self.always or self.approval != "never"


@dataclass(frozen=True)
class McpOffer:
    servers: tuple[SessionMcp, ...] = ()
    worker: bool = True  # the worker's own servers offered too


def _invalid(message: str, param: str, code: str = "invalid_value") -> InvalidRequest:
    return InvalidRequest(message, param=param, code=code)


def _normal(url: str) -> str:
    return url.strip().rstrip("/")


def mcp_offer(tools: Sequence[BaseModel], allowed_urls: Sequence[str], param: str) -> McpOffer:
    """The `mcp` entries of `tools` (`param`: `session.tools`)."""
    allowed = {_normal(u) for u in allowed_urls}
    servers: list[SessionMcp] = []
    worker = True
    for i, tool in enumerate(tools):
        if getattr(tool, "type", None) != "mcp":
            continue
        at = f"{param}[{i}]"
        label: str = getattr(tool, "server_label", "")
        url = getattr(tool, "server_url", None)
        if getattr(tool, "connector_id", None) or getattr(tool, "tunnel_id", None):
            raise _invalid(
                f"{at}: connectors and tunnels are not supported; give server_url",
                f"{at}.server_url",
                "unsupported_value",
            )
        if url is None:
            if label != WORKER:
                raise _invalid(f"{at}.server_url is required", f"{at}.server_url")
            worker = _allowed(tool.allowed_tools, f"{at}.allowed_tools") != ()  # type: ignore[attr-defined]
            continue
        if not label or label == WORKER or label in {s.label for s in servers}:
            raise _invalid(
                f"{at}.server_label must be given, once, and not {WORKER!r}", f"{at}.server_label"
            )
        if _normal(url) not in allowed:
            raise _invalid(
                f"{at}.server_url {url!r} is not an MCP server this worker may call "
                "(VOICE_TOOLS__ALLOWED_MCP_URLS)",
                f"{at}.server_url",
                "mcp_server_not_allowed",
            )
        headers = tuple(sorted((getattr(tool, "headers", None) or {}).items()))
        approval, never, always = _approval(getattr(tool, "require_approval", None))
        servers.append(
            SessionMcp(
                label,
                url,
                headers,
                _allowed(getattr(tool, "allowed_tools", None), f"{at}.allowed_tools"),
                approval,
                never,
                always,
            )
        )
    return McpOffer(tuple(servers), worker)


def _allowed(value: Any, param: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    names = value if isinstance(value, list) else getattr(value, "tool_names", None)
    if names is None:
        return None
    if not all(isinstance(n, str) for n in names):
        raise _invalid(f"{param} must name tools", param)
    return tuple(names)


def _approval(value: Any) -> tuple[str, frozenset[str], frozenset[str]]:
    if value is None:
        return "always", frozenset(), frozenset()
    if isinstance(value, str):
        return value, frozenset(), frozenset()
    never = getattr(getattr(value, "never", None), "tool_names", None) or []
    always = getattr(getattr(value, "always", None), "tool_names", None) or []
    return "always", frozenset(never), frozenset(always)


def wire_mcp(offer: McpOffer) -> list[dict[str, Any]]:
    """The entries as a session object reports them (headers left out: secrets)."""
    wired: list[dict[str, Any]] = [
        {
            "type": "mcp",
            "server_label": s.label,
            "server_url": s.url,
            "allowed_tools": None if s.allowed_tools is None else list(s.allowed_tools),
            "require_approval": s.approval
            if not (s.never or s.always)
            else {
                "never": {"tool_names": sorted(s.never)},
                "always": {"tool_names": sorted(s.always)},
            },
        }
        for s in offer.servers
    ]
    if not offer.worker:
        wired.append({"type": "mcp", "server_label": WORKER, "allowed_tools": []})
    return wired
