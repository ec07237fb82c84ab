"""The client's function tools of a realtime session (`session.tools` entries of type
`function`, `response.tools` for one response) and `tool_choice`, checked where the
SDK's types are silent: a name OpenAI's chat format takes (`^[a-zA-Z0-9_-]{1,64}$`,
once in the list), `parameters` a JSON Schema of an object (checked with jsonschema's
meta-schema), a description of bounded length, at most MAX_TOOLS; a choice naming a
function that is on offer. Each refusal names the field (`session.tools[1].name`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import jsonschema
from pydantic import BaseModel

from voice_worker.chat.tools import NamedTool, Tool, ToolChoice
from voice_worker.errors import InvalidRequest

NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
MAX_TOOLS, MAX_DESCRIPTION_CHARS = 128, 4096
CHOICES = ("auto", "none", "required")


def _invalid(message: str, param: str) -> InvalidRequest:
    return InvalidRequest(message, param=param, code="invalid_value")


def function_tools(tools: Sequence[BaseModel], param: str) -> tuple[Tool, ...]:
    """The function tools of `tools` (`param`: `session.tools`); other types are left
    to their own reader (realtime MCP tools)."""
    if len(tools) > MAX_TOOLS:
        raise _invalid(f"{param} has {len(tools)} tools; at most {MAX_TOOLS}", param)
    found: dict[str, Tool] = {}
    for i, tool in enumerate(tools):
        if getattr(tool, "type", None) not in (None, "function"):
            continue
        at = f"{param}[{i}]"
        name = getattr(tool, "name", None)
        if not isinstance(name, str) or not NAME.match(name):
            raise _invalid(
                f"{at}.name must be 1 to 64 letters, digits, _ or - (got {name!r})", f"{at}.name"
            )
        if name in found:
            raise _invalid(f"{at}.name: {name!r} is offered twice", f"{at}.name")
        description = getattr(tool, "description", None) or ""
        if len(description) > MAX_DESCRIPTION_CHARS:
            raise _invalid(
                f"{at}.description is longer than {MAX_DESCRIPTION_CHARS}", f"{at}.description"
            )
        parameters = _parameters(getattr(tool, "parameters", None), f"{at}.parameters")
        found[name] = Tool(name, description, parameters)
    return tuple(found.values())


def _parameters(value: Any, param: str) -> dict[str, Any]:
    if value is None:
        return {"type": "object", "properties": {}}
    if not isinstance(value, dict):
        raise _invalid(f"{param} must be a JSON Schema object", param)
    if value.get("type", "object") != "object":
        raise _invalid(f"{param}.type must be object (a function takes named arguments)", param)
    try:
        jsonschema.validators.validator_for(value).check_schema(value)
    except jsonschema.SchemaError as exc:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in exc.path)
        raise _invalid(f"{param}{where} is not valid JSON Schema: {exc.message}", param) from None
    return {"type": "object", "properties": {}, **value}


def tool_choice(value: Any, tools: Sequence[Tool], param: str) -> ToolChoice:
    """`tool_choice` as the chat providers take it; refused when it names no function
    on offer, or requires a call with none on offer."""
    if isinstance(value, str):
        if value not in CHOICES:
            raise _invalid(f"{param} must be auto, none, required or a function", param)
        if value == "required" and not tools:
            raise _invalid(f"{param} is required, but no function is offered", param)
        return value  # type: ignore[return-value]
    kind, name = getattr(value, "type", None), getattr(value, "name", None)
    if kind != "function" or not isinstance(name, str):
        raise InvalidRequest(
            f"{param}: only a function can be forced here", param=param, code="unsupported_value"
        )
    if name not in {tool.name for tool in tools}:
        raise _invalid(f"{param}.name: no function {name!r} is offered", f"{param}.name")
    return NamedTool(name)


def wire_tools(tools: Sequence[Tool]) -> list[dict[str, Any]]:
    """The function tools as a session object reports them."""
    return [
        {
            "type": "function",
            "name": t.name,
            "description": t.description,
            "parameters": t.parameters,
        }
        for t in tools
    ]


def wire_choice(choice: ToolChoice) -> str | dict[str, str]:
    """`tool_choice` as a session object reports it."""
    return {"type": "function", "name": choice.name} if isinstance(choice, NamedTool) else choice


def offered(
    tools: Sequence[BaseModel] | None,
    choice: Any,
    current: tuple[Tool, ...],
    current_choice: ToolChoice,
    prefix: str,
) -> tuple[tuple[Tool, ...], ToolChoice]:
    """The functions and the choice after a `session.update` or for a `response.create`
    (`prefix`: `session` or `response`) that sets `tools` and/or `tool_choice` (None:
    kept as they are). A session's `mcp` entries are read by realtime/mcp_config.py;
    a response's own are refused."""
    if tools is not None:
        kinds = (None, "function", "mcp") if prefix == "session" else (None, "function")
        for i, tool in enumerate(tools):
            if getattr(tool, "type", None) not in kinds:
                raise InvalidRequest(
                    f"{prefix}.tools[{i}].type: only function tools are supported here",
                    param=f"{prefix}.tools[{i}].type",
                    code="unsupported_value",
                )
        current = function_tools(tools, f"{prefix}.tools")
    if choice is not None:
        current_choice = tool_choice(choice, current, f"{prefix}.tool_choice")
    elif isinstance(current_choice, NamedTool) and current_choice.name not in {
        t.name for t in current
    }:
        current_choice = "auto"  # the function it named is no longer offered
    return current, current_choice
