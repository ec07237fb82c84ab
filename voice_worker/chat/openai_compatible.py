"""Chat through any OpenAI-compatible server (vLLM, Ollama, llama.cpp's server, Venice)
with the official `openai` SDK, streamed so that `reasoning_content` and inline
`<think>` blocks are both separated from the spoken answer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import openai
from openai.types.chat import ChatCompletionMessageParam
from openai.types.chat.chat_completion_chunk import ChoiceDelta

from voice_worker.chat.base import ChatMessage, ChatOptions, ChatReply, upstream_name
from voice_worker.chat.thinking import ThinkingParser
from voice_worker.upstream import from_openai


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

    async def complete(self, messages: Sequence[ChatMessage], options: ChatOptions) -> ChatReply:
        model = options.model or self.model
        parser = ThinkingParser()
        reasoning: list[str] = []
        usage: dict[str, int] = {}
        try:
            stream = await self.client.chat.completions.create(
                model=model,
                messages=cast(
                    list[ChatCompletionMessageParam],
                    [{"role": m.role, "content": m.content} for m in messages],
                ),
                stream=True,
                stream_options={"include_usage": True},
                max_tokens=options.max_tokens,
                temperature=options.temperature,
                extra_body=self.extra_body or None,
            )
            async for chunk in stream:
                if chunk.usage is not None:
                    usage = {
                        "prompt_tokens": chunk.usage.prompt_tokens,
                        "completion_tokens": chunk.usage.completion_tokens,
                    }
                for choice in chunk.choices:
                    thought = _reasoning(choice.delta)
                    if thought:
                        reasoning.append(thought)
                    if choice.delta.content:
                        parser.feed(choice.delta.content)
        except openai.OpenAIError as exc:
            raise from_openai(upstream_name(self.name), exc) from exc
        parser.close()
        thinking = "\n".join(p for p in ("".join(reasoning).strip(), parser.thinking) if p)
        return ChatReply(parser.text, thinking, model, usage)

    async def close(self) -> None:
        await self.client.close()


def _reasoning(delta: ChoiceDelta) -> str:
    """`reasoning_content`: not in OpenAI's schema, sent by Venice, vLLM, DeepSeek; the
    SDK keeps unknown fields in `model_extra`."""
    value = (delta.model_extra or {}).get("reasoning_content")
    return value if isinstance(value, str) else ""
