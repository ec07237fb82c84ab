"""Chat providers by name; `build_chat_provider` returns the configured one."""

from __future__ import annotations

from collections.abc import Callable

from voice_worker.chat.base import ChatProvider
from voice_worker.chat.settings import ChatSettings


def _venice(settings: ChatSettings) -> ChatProvider:
    from voice_worker.chat.venice import VeniceChat

    return VeniceChat(settings)


def _openai_compatible(settings: ChatSettings) -> ChatProvider:
    from voice_worker.chat.openai_compatible import OpenAICompatibleChat

    group = settings.openai_compatible
    return OpenAICompatibleChat(
        base_url=group.base_url,
        api_key=group.api_key.get_secret_value(),
        model=group.model,
        timeout=settings.timeout_seconds,
        max_retries=settings.max_retries,
    )


def _local(settings: ChatSettings) -> ChatProvider:
    from voice_worker.chat.local import LocalChat

    group = settings.local
    return LocalChat(
        group.model_path, group.context_tokens, group.threads, group.prompt_cache_mb * 2**20
    )


PROVIDERS: dict[str, Callable[[ChatSettings], ChatProvider]] = {
    "venice": _venice,
    "openai_compatible": _openai_compatible,
    "local": _local,
}


def resolve_name(settings: ChatSettings) -> str:
    """`auto` is Venice when a key is configured, else the local model."""
    if settings.provider != "auto":
        return settings.provider
    key = settings.venice.api_key
    return "venice" if key is not None and key.get_secret_value() else "local"


def build_chat_provider(settings: ChatSettings) -> ChatProvider:
    name = resolve_name(settings)
    try:
        factory = PROVIDERS[name]
    except KeyError:
        valid = ", ".join(["auto", *PROVIDERS])
        raise ValueError(f"unknown chat provider {name!r}; valid: {valid}") from None
    return factory(settings)
