"""Chat through any OpenAI-compatible server (vLLM, Ollama, llama.cpp's server, Venice)
with the official `openai` SDK, streamed so that `reasoning_content` and inline
`<think>` blocks are both separated from the spoken answer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import openai
from openai.types.chat import ChatCompletionMessageParam

from voice_worker.chat.base import ChatError, ChatMessage, ChatOptions, ChatReply
from voice_worker.chat.thinking import ThinkingParser


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
                    thought = getattr(choice.delta, "reasoning_content", None)
                    if thought:
                        reasoning.append(thought)
                    if choice.delta.content:
                        parser.feed(choice.delta.content)
        except openai.APIError as exc:
            raise self._error(exc) from exc
        parser.close()
        thinking = "\n".join(p for p in ("".join(reasoning).strip(), parser.thinking) if p)
        return ChatReply(parser.text, thinking, model, usage)

    def _error(self, exc: openai.APIError) -> ChatError:
        """Map an SDK error to the status the worker answers with."""
        if isinstance(exc, openai.APITimeoutError):
            return ChatError(self.name, "did not answer in time", 504, code="upstream_timeout")
        if isinstance(exc, openai.APIConnectionError):
            return ChatError(
                self.name, f"unreachable ({exc.message})", 503, code="upstream_unavailable"
            )
        if not isinstance(exc, openai.APIStatusError):
            return ChatError(self.name, f"answered badly: {exc.message}", 502)
        detail = (_detail(exc.body) or exc.message)[:300]
        status = exc.status_code
        headers = exc.response.headers
        retry_after = _float(
            headers.get("retry-after") or headers.get("x-ratelimit-reset-requests")
        )
        if status in (401, 403):
            return ChatError(
                self.name,
                f"rejected the API key (HTTP {status}: {detail})",
                code="upstream_auth_failed",
            )
        if status == 429:
            return ChatError(
                self.name,
                f"rate limited the worker (HTTP 429: {detail})",
                503,
                retry_after,
                code="upstream_rate_limited",
            )
        if status in (503, 504):
            code = "upstream_timeout" if status == 504 else "upstream_unavailable"
            return ChatError(
                self.name, f"unavailable (HTTP {status}: {detail})", status, retry_after, code
            )
        return ChatError(self.name, f"failed (HTTP {status}: {detail})", 502)

    async def aclose(self) -> None:
        await self.client.close()


def _detail(body: object) -> str:
    if isinstance(body, str):
        return body
    if isinstance(body, dict):
        message = body.get("message") or body.get("error")
        return str(message) if message else ""
    return ""


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
