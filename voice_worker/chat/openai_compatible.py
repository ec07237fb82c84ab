"""Chat through any OpenAI-compatible server (vLLM, Ollama, llama.cpp's server, Venice)
with the official `openai` SDK, streamed (usage in the last chunk): `reasoning_content`
and inline `<think>` blocks both become thinking, apart from the spoken answer. Closing
the stream closes the HTTP response, so the upstream stops generating. With tools
offered (`stream_tools`, chat.tools) the streamed `tool_calls` deltas are put together
by index, their arguments from the pieces they come in, and each call is an event. What
users said (user messages, the history of what was answered) and what tools returned
goes out with its chat-template control strings neutralised (chat.control); the system
persona, from configuration, as it is."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Sequence
from typing import Any, cast

import httpx
import openai
from openai.types.chat import ChatCompletionMessageParam
from openai.types.chat.chat_completion_chunk import ChoiceDelta, ChoiceDeltaToolCall

from voice_worker.chat.base import (
    ChatEnd,
    ChatEvent,
    ChatMessage,
    ChatOptions,
    ThinkingDelta,
    ToolCall,
    upstream_name,
)
from voice_worker.chat.control import neutralize
from voice_worker.chat.thinking import ThinkingParser
from voice_worker.chat.tools import ToolChatEvent, ToolOffer, wire_choice
from voice_worker.upstream import from_httpx, from_openai


class OpenAICompatibleChat:
    """`name` is the upstream named in errors; `extra_body` rides on every request."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        model: str,
        name: str = "openai_compatible",
        timeout: float = 60.0,
        max_retries: int = 2,
        extra_body: dict[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.model = model
        self.extra_body = extra_body or {}
        self.client = openai.AsyncOpenAI(
            base_url=base_url, api_key=api_key, timeout=timeout, max_retries=max_retries
        )

    async def stream(
        self, messages: Sequence[ChatMessage], options: ChatOptions
    ) -> AsyncGenerator[ChatEvent, None]:
        async with contextlib.aclosing(self._events(messages, options, None)) as events:
            async for event in events:
                if not isinstance(event, ToolCall):  # none without tools offered
                    yield event

    def stream_tools(
        self, messages: Sequence[ChatMessage], options: ChatOptions, offer: ToolOffer
    ) -> AsyncGenerator[ToolChatEvent, None]:
        return self._events(messages, options, offer)

    async def _events(
        self, messages: Sequence[ChatMessage], options: ChatOptions, offer: ToolOffer | None
    ) -> AsyncGenerator[ToolChatEvent, None]:
        model = options.model or self.model
        upstream = upstream_name(self.name)
        parser = ThinkingParser()
        calls = StreamedCalls()
        usage: dict[str, int] = {}
        tools: dict[str, Any] = {}
        if offer is not None and offer.tools:
            tools = {
                "tools": [t.wire() for t in offer.tools],
                "tool_choice": wire_choice(offer.choice),
            }
        try:
            stream = await self.client.chat.completions.create(
                model=model,
                messages=cast(list[ChatCompletionMessageParam], wire_messages(messages)),
                stream=True,
                stream_options={"include_usage": True},
                max_tokens=options.max_tokens,
                temperature=options.temperature,
                extra_body=self.extra_body or None,
                **tools,
            )
        except openai.OpenAIError as exc:
            raise from_openai(upstream, exc) from exc
        try:
            async for chunk in stream:
                if chunk.usage is not None:
                    usage = {
                        "prompt_tokens": chunk.usage.prompt_tokens,
                        "completion_tokens": chunk.usage.completion_tokens,
                    }
                for choice in chunk.choices:
                    if thought := _reasoning(choice.delta):
                        yield ThinkingDelta(thought)
                    if choice.delta.content:
                        for delta in parser.feed(choice.delta.content):
                            yield delta
                    for part in choice.delta.tool_calls or ():
                        calls.feed(part)
        except openai.OpenAIError as exc:
            raise from_openai(upstream, exc) from exc
        except httpx.HTTPError as exc:  # the connection broke mid-stream
            raise from_httpx(upstream, exc) from exc
        finally:
            await stream.close()  # closes the HTTP response: the upstream stops
        for delta in parser.close():
            yield delta
        for call in calls.done():
            yield call
        yield ChatEnd(model, usage)

    async def close(self) -> None:
        await self.client.close()


def wire_messages(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """The messages as sent: only the configured system persona may hold control strings
    (a tool's output is as untrusted as what a user says)."""
    return [_wire(m) for m in messages]


def _wire(m: ChatMessage) -> dict[str, Any]:
    content = m.content if m.role == "system" else neutralize(m.content)
    message: dict[str, Any] = {"role": m.role, "content": content}
    if m.tool_calls:
        message["content"] = content or None
        message["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for call in m.tool_calls
        ]
    if m.role == "tool":
        message["tool_call_id"] = m.tool_call_id
    return message


class StreamedCalls:
    """The tool calls of a stream, put together from their deltas: a call's first delta
    (by `index`) has its id and name (some servers repeat them: the first is kept), the
    arguments come in pieces."""

    def __init__(self) -> None:
        self._calls: dict[int, tuple[list[str], list[str]]] = {}

    def feed(self, part: ChoiceDeltaToolCall) -> None:
        head, arguments = self._calls.setdefault(part.index, (["", ""], []))
        head[0] = head[0] or part.id or ""
        if part.function is not None:
            head[1] = head[1] or part.function.name or ""
            if part.function.arguments:
                arguments.append(part.function.arguments)

    def done(self) -> list[ToolCall]:
        """The calls, in index order; one without a name is no call."""
        return [
            ToolCall(head[0] or f"call_{index}", head[1], "".join(arguments))
            for index, (head, arguments) in sorted(self._calls.items())
            if head[1]
        ]


def _reasoning(delta: ChoiceDelta) -> str:
    """`reasoning_content`: not in OpenAI's schema, sent by Venice, vLLM, DeepSeek; the
    SDK keeps unknown fields in `model_extra`."""
    value = (delta.model_extra or {}).get("reasoning_content")
    return value if isinstance(value, str) else ""
