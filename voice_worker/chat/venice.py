"""The Venice API (OpenAI-compatible) with its `venice_parameters` in `extra_body`.

Venice prepends its own system prompt unless `include_venice_system_prompt` is false;
the engine sends false so that the analyst role's persona is the only one. Thinking is
never stripped upstream (unless configured off): it is stored with the message."""

from __future__ import annotations

from typing import Any

from voice_worker.chat.openai_compatible import OpenAICompatibleChat
from voice_worker.chat.settings import ChatSettings


def venice_parameters(settings: ChatSettings) -> dict[str, Any]:
    return {
        "include_venice_system_prompt": False,
        "strip_thinking_response": False,
        "disable_thinking": settings.venice.disable_thinking,
        "enable_web_search": settings.venice.enable_web_search,
    }


class VeniceChat(OpenAICompatibleChat):
    def __init__(self, settings: ChatSettings) -> None:
        key = settings.venice.api_key
        if key is None or not key.get_secret_value():
            raise ValueError("the venice chat provider needs VOICE_CHAT__VENICE__API_KEY")
        super().__init__(
            base_url=settings.venice.base_url,
            api_key=key.get_secret_value(),
            model=settings.venice.model,
            name="venice",
            timeout=settings.timeout_seconds,
            max_retries=settings.max_retries,
            extra_body={"venice_parameters": venice_parameters(settings)},
        )
