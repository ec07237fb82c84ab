"""A fake Venice API, strict about the request, exact about the reply (see
/work/shared/api-contracts.md): `POST /api/v1/chat/completions` with Bearer auth,
SSE streaming (`reasoning_content` before `content`, `data: [DONE]`), Venice's error
shapes and the x-ratelimit-* headers on every response. Tests choose what it answers
by setting `fake.scenario`. Streams can be paced by the test (`paced`: the first
sentence, then the rest once `fake.release` is set) or fail half-way (`broken`: an
error event after the first sentence, as OpenAI-compatible servers send them), and the
fake counts the streams whose client left before the end (`fake.abandoned`); `long`
writes twelve sentences, 0.3 s apart. The `tools` scenarios stream `tool_calls` deltas
as OpenAI does (the arguments split across chunks, `finish_reason: "tool_calls"`) and
check `tools`, `tool_choice` and the messages of calls by OpenAI's rules."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

KEY = "venice-test-key"


def venice_env(base_url: str) -> dict[str, str]:
    """A worker's environment for its chat on this fake, served at `base_url` (the
    server's URL and /api/v1)."""
    return {
        "VOICE_CHAT__PROVIDER": "venice",
        "VOICE_CHAT__VENICE__API_KEY": KEY,
        "VOICE_CHAT__VENICE__BASE_URL": base_url,
    }


PAUSE, BREAK = "\x00pause", "\x00break"  # markers in a scripted stream, never sent
VENICE_BOOLS = {
    "strip_thinking_response",
    "disable_thinking",
    "include_venice_system_prompt",
    "enable_web_scraping",
    "enable_web_citations",
    "include_search_results_in_stream",
    "return_search_results_as_documents",
    "enable_x_search",
    "enable_e2ee",
}
ROLES = {"system", "user", "assistant", "tool", "developer"}
#: scenario -> (reasoning chunks, content chunks)
STREAMS: dict[str, tuple[list[str], list[str]]] = {
    "reasoning": (["The user asks ", "for two plus two."], ["Two plus ", "two is four."]),
    "inline": ([], ["<thi", "nk>Simple arith", "metic.</th", "ink>", "It is ", "four."]),
    "unclosed": ([], ["<think>Let me think ", "about this for a long ", "time"]),
    "plain": ([], ["Hello ", "from Venice."]),
    "short": ([], ["Sure."]),
    "slow": ([], ["Too ", "late."]),
    "paced": (
        [],
        [
            "The first sentence ",
            "is short. ",
            PAUSE,
            "The second one ",
            "comes later. ",
            "And a third one ends it.",
        ],
    ),
    "clause": (  # a long first sentence: its first clause, then the rest once released
        [],
        [
            "Well, the best city to visit is Paris, ",
            PAUSE,
            "a city of art and light that millions of people visit every single year. ",
            "It is lovely.",
        ],
    ),
    "broken": ([], ["This sentence arrives. ", BREAK]),
    "long": ([], [f"Sentence number {i} keeps the voice busy for a while. " for i in range(12)]),
}
#: the model calls a tool offered (`fake.tool_calls`, or the first one), then answers
#: with what it returned; `tools_think` thinks inline before the call; `tools_always`
#: calls whenever the request lets it (tool_choice not none); `tools_filler` says
#: "Let me check." before the call
TOOL_SCENARIOS = {"tools", "tools_think", "tools_always", "tools_filler"}
ERRORS: dict[str, tuple[int, dict[str, Any]]] = {
    "429": (429, {"error": "Rate limit exceeded"}),
    "500": (500, {"error": "Inference failed"}),
    "503": (503, {"error": "The model is at capacity. Please try again later."}),
    "504": (504, {"error": "Request timed out"}),
    "402": (402, {"error": "Insufficient USD or Diem balance to complete request"}),
    "context": (
        400,
        {
            "error": {
                "message": "This model's maximum context length is 32768 tokens.",
                "type": "invalid_request_error",
                "param": "messages",
                "code": "context_length_exceeded",
            }
        },
    ),
}


def tool_call_deltas(index: int, name: str, arguments: dict[str, Any]) -> list[dict[str, Any]]:
    """One call as OpenAI streams it: the id, type and name with empty arguments first,
    then the arguments' JSON text in pieces of a few characters."""
    text = json.dumps(arguments)
    first = {
        "index": index,
        "id": f"call_fake{index}",
        "type": "function",
        "function": {"name": name, "arguments": ""},
    }
    rest = [
        {"index": index, "function": {"arguments": text[i : i + 5]}} for i in range(0, len(text), 5)
    ]
    return [first, *rest]


def rate_headers(remaining: int = 49) -> dict[str, str]:
    return {
        "x-ratelimit-limit-requests": "50",
        "x-ratelimit-remaining-requests": str(remaining),
        "x-ratelimit-reset-requests": "7",
        "x-ratelimit-limit-tokens": "100000",
        "x-ratelimit-remaining-tokens": "99000",
        "x-ratelimit-reset-tokens": "7",
        "x-ratelimit-type": "requests",
        "x-venice-balance-usd": "9.87",
    }


def validation_error(problem: str) -> JSONResponse:
    body = {"error": "Invalid request", "details": {"_errors": [problem]}, "issues": []}
    return JSONResponse(body, status_code=400, headers=rate_headers())


def check(body: Any) -> str | None:
    """What the real API would reject, as a message; None when the body is valid."""
    if not isinstance(body, dict):
        return "body must be a JSON object"
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "model: Required"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages: Required, at least one"
    for m in messages:
        if not isinstance(m, dict) or m.get("role") not in ROLES:
            return "messages: each needs a valid role"
        calls = m.get("tool_calls") if m["role"] == "assistant" else None
        if not isinstance(m.get("content"), str) and not (calls and m.get("content") is None):
            return "messages: content must be a string"
    problem = check_tools(body)
    if problem:
        return problem
    if "stream" in body and not isinstance(body["stream"], bool):
        return "stream: Expected boolean"
    if "stream_options" in body and not body.get("stream"):
        return "stream_options: only with stream"
    params = body.get("venice_parameters", {})
    if not isinstance(params, dict):
        return "venice_parameters: Expected object"
    for key, value in params.items():
        if key in VENICE_BOOLS:
            if not isinstance(value, bool):
                return f"venice_parameters.{key}: Expected boolean"
        elif key == "enable_web_search":
            if value not in ("off", "on", "auto"):
                return "venice_parameters.enable_web_search: off, on or auto"
        elif key != "character_slug":
            return f"venice_parameters: Unrecognized key {key!r}"
    return None


TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def check_tools(body: dict[str, Any]) -> str | None:
    """OpenAI's rules for `tools`, `tool_choice` and the messages of tool calls."""
    tools = body.get("tools")
    names: set[str] = set()
    if tools is not None:
        if not isinstance(tools, list) or not tools:
            return "tools: Expected a non-empty array"
        for tool in tools:
            function = tool.get("function") if isinstance(tool, dict) else None
            if tool.get("type") != "function" or not isinstance(function, dict):
                return "tools: each is {type: function, function: {...}}"
            if not TOOL_NAME.match(str(function.get("name", ""))):
                return "tools: function.name must match ^[a-zA-Z0-9_-]{1,64}$"
            if not isinstance(function.get("parameters", {}), dict):
                return "tools: function.parameters must be a JSON schema object"
            names.add(function["name"])
    choice = body.get("tool_choice")
    if choice is not None:
        if tools is None:
            return "tool_choice is only allowed when tools are specified"
        if isinstance(choice, dict):
            if (choice.get("function") or {}).get("name") not in names:
                return "tool_choice: names no function in tools"
        elif choice not in ("auto", "none", "required"):
            return "tool_choice: auto, none, required or a function"
    pending: set[str] = set()
    for m in body["messages"]:
        if m["role"] == "tool":
            if m.get("tool_call_id") not in pending:
                return "messages: a tool message must answer a preceding tool call"
            pending.discard(m["tool_call_id"])
            continue
        if pending:
            return (
                "messages: an assistant message with tool_calls must be followed by tool messages"
            )
        for call in m.get("tool_calls") or []:
            function = call.get("function") if isinstance(call, dict) else None
            if call.get("type") != "function" or not isinstance(function, dict):
                return "messages: tool_calls must be functions"
            if not isinstance(function.get("arguments"), str) or not call.get("id"):
                return "messages: a tool call needs its id and arguments (a string)"
            pending.add(call["id"])
    return None


def tool_outputs(body: dict[str, Any]) -> list[str]:
    """What the tools returned since the user's last message."""
    outputs: list[str] = []
    for m in body["messages"]:
        if m["role"] == "user":
            outputs = []
        elif m["role"] == "tool":
            outputs.append(m["content"])
    return outputs


class FakeVenice:
    def __init__(self) -> None:
        self.scenario = "reasoning"
        self.requests: list[dict[str, Any]] = []
        self.release = threading.Event()  # `paced`: the rest of the reply may come
        self.abandoned = 0  # streams whose client closed the connection before the end
        #: `tools` scenarios: the calls the model makes, (name, arguments); none named:
        #: the first tool offered, with no arguments
        self.tool_calls: list[tuple[str, dict[str, Any]]] = []
        self.app = FastAPI()
        self.app.post("/api/v1/chat/completions")(self.completions)

    async def completions(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {KEY}":
            return JSONResponse(
                {"error": "Authentication failed"}, status_code=401, headers=rate_headers()
            )
        try:
            body = json.loads(await request.body())
        except ValueError:
            return validation_error("body is not JSON")
        problem = check(body)
        if problem:
            return validation_error(problem)
        self.requests.append(body)
        if self.scenario == "slow":
            await asyncio.sleep(1.5)
        if self.scenario in ERRORS:
            status, error = ERRORS[self.scenario]
            return JSONResponse(error, status_code=status, headers=rate_headers(0))
        if self.scenario in TOOL_SCENARIOS:
            calls = self._calls_for(body)
            if calls:
                preface = ["<think>I should ", "use the tool.</think>"]
                content = preface if self.scenario == "tools_think" else []
                content = ["Let me ", "check. "] if self.scenario == "tools_filler" else content
                return StreamingResponse(
                    self._sse(body, [], content, calls),
                    media_type="text/event-stream",
                    headers=rate_headers(),
                )
            outputs = tool_outputs(body)
            answer = f"The tool says: {' '.join(outputs)}" if outputs else "No tool was needed."
            content = [answer[i : i + 12] for i in range(0, len(answer), 12)]
            return StreamingResponse(
                self._sse(body, [], content), media_type="text/event-stream", headers=rate_headers()
            )
        reasoning, content = STREAMS[self.scenario]
        if not body.get("stream"):
            return JSONResponse(self._completion(body, reasoning, content), headers=rate_headers())
        return StreamingResponse(
            self._sse(body, reasoning, content),
            media_type="text/event-stream",
            headers=rate_headers(),
        )

    @staticmethod
    def _chunk(body: dict[str, Any], delta: dict[str, Any], finish: str | None) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        chunk = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [choice],
        }
        return f"data: {json.dumps(chunk)}\n\n"

    def _calls_for(self, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """The calls to make now: `tools` calls once per user message (then answers with
        what the tools returned), `tools_always` whenever it may."""
        if not body.get("tools") or body.get("tool_choice") == "none":
            return []
        if self.scenario != "tools_always" and tool_outputs(body):
            return []
        forced = body.get("tool_choice")
        if isinstance(forced, dict):
            return [(forced["function"]["name"], {})]
        return self.tool_calls or [(body["tools"][0]["function"]["name"], {})]

    async def _sse(
        self,
        body: dict[str, Any],
        reasoning: list[str],
        content: list[str],
        calls: list[tuple[str, dict[str, Any]]] | None = None,
    ) -> AsyncIterator[str]:
        finished = False
        try:
            async for event in self._events(body, reasoning, content, calls or []):
                yield event
            finished = True
        finally:
            if not finished:
                self.abandoned += 1

    async def _events(
        self,
        body: dict[str, Any],
        reasoning: list[str],
        content: list[str],
        calls: list[tuple[str, dict[str, Any]]],
    ) -> AsyncIterator[str]:
        yield self._chunk(body, {"role": "assistant", "content": ""}, None)
        for part in reasoning:
            yield self._chunk(body, {"reasoning_content": part}, None)
        for part in content:
            if part == PAUSE:
                await asyncio.to_thread(self.release.wait, 20)
                continue
            if part == BREAK:
                error = {"message": "Inference failed mid-stream", "type": "server_error"}
                yield f"data: {json.dumps({'error': error})}\n\n"
                return
            yield self._chunk(body, {"content": part}, None)
            await asyncio.sleep(0.3 if self.scenario == "long" else 0.01)
        for index, (name, arguments) in enumerate(calls):
            for delta in tool_call_deltas(index, name, arguments):
                yield self._chunk(body, {"tool_calls": [delta]}, None)
        yield self._chunk(body, {}, "tool_calls" if calls else "stop")
        if (body.get("stream_options") or {}).get("include_usage"):
            usage = {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19}
            chunk = {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [],
                "usage": usage,
            }
            yield f"data: {json.dumps(chunk)}\n\n"
        yield "data: [DONE]\n\n"

    @staticmethod
    def _completion(body: dict[str, Any], reasoning: list[str], content: list[str]) -> Any:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": "".join(content),
            "reasoning_content": "".join(reasoning) or None,
            "tool_calls": [],
        }
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19},
            "cost": {"usd": 0.0001, "diem": 0},
        }
