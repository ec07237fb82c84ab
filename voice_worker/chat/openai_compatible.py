"""Chat through any OpenAI-compatible server (vLLM, Ollama, llama.cpp's server, Venice)
with the official `openai` SDK, streamed (usage in the last chunk): `reasoning_content`
and inline `<think>` blocks both become thinking, apart from the spoken answer. Closing
the stream closes the HTTP response, so the upstream stops generating. What users said
(user messages, and the history of what was answered) goes out with its chat-template
control strings neutralised (chat.control); the system persona, from configuration, as
it is."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from typing import Any, cast

import httpx
import openai
from openai.types.chat import ChatCompletionMessageParam
from openai.types.chat.chat_completion_chunk import ChoiceDelta

from voice_worker.chat.base import (
    ChatEnd,
    ChatEvent,
    ChatMessage,
    ChatOptions,
    ThinkingDelta,
    upstream_name,
)
from voice_worker.chat.control import neutralize
from voice_worker.chat.thinking import ThinkingParser
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
        model = options.model or self.model
        upstream = upstream_name(self.name)
        parser = ThinkingParser()
        usage: dict[str, int] = {}
        try:
            stream = await self.client.chat.completions.create(
                model=model,
                messages=cast(list[ChatCompletionMessageParam], wire_messages(messages)),
                stream=True,
                stream_options={"include_usage": True},
                max_tokens=options.max_tokens,
                temperature=options.temperature,
                extra_body=self.extra_body or None,
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
        except openai.OpenAIError as exc:
            raise from_openai(upstream, exc) from exc
        except httpx.HTTPError as exc:  # the connection broke mid-stream
            raise from_httpx(upstream, exc) from exc
        finally:
            await stream.close()  # closes the HTTP response: the upstream stops
        for delta in parser.close():
            yield delta
        yield ChatEnd(model, usage)

    async def close(self) -> None:
        await self.client.close()


def wire_messages(messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
    """The messages as sent: only the configured system persona may hold control strings."""
    return [
        {"role": m.role, "content": m.content if m.role == "system" else neutralize(m.content)}
        for m in messages
    ]


def _reasoning(delta: ChoiceDelta) -> str:
    """`reasoning_content`: not in OpenAI's schema, sent by Venice, vLLM, DeepSeek; the
    SDK keeps unknown fields in `model_extra`."""
    value = (delta.model_extra or {}).get("reasoning_content")
    return value if isinstance(value, str) else ""
