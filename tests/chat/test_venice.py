"""The Venice provider through the real `openai` SDK against the strict fake server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr

from harness.fake_venice import KEY, FakeVenice
from harness.processes import free_port
from voice_worker.chat.base import ChatEnd, ChatMessage, ChatOptions, TextDelta, complete
from voice_worker.chat.registry import build_chat_provider, resolve_name
from voice_worker.chat.settings import ChatSettings, VeniceSettings
from voice_worker.chat.venice import VeniceChat
from voice_worker.errors import VoiceError
from voice_worker.http.errors import http_status, voice_error_response

MESSAGES = [ChatMessage("system", "Be brief."), ChatMessage("user", "What is two plus two?")]


def settings(base_url: str, key: str = KEY) -> ChatSettings:
    venice = VeniceSettings(api_key=SecretStr(key), base_url=base_url, model="qwen3-4b")
    return ChatSettings(provider="venice", venice=venice, max_retries=0, timeout_seconds=5)


@pytest.fixture
async def venice(fake_venice: tuple[FakeVenice, str]) -> AsyncIterator[VeniceChat]:
    fake, url = fake_venice
    fake.scenario = "reasoning"
    fake.requests.clear()
    provider = VeniceChat(settings(url))
    yield provider
    await provider.close()


async def test_reasoning_content_is_thinking_not_text(
    venice: VeniceChat, fake_venice: tuple[FakeVenice, str]
) -> None:
    reply = await complete(venice, MESSAGES, ChatOptions(max_tokens=50))
    assert reply.text == "Two plus two is four."
    assert reply.thinking == "The user asks for two plus two."
    assert reply.usage == {"prompt_tokens": 12, "completion_tokens": 7}
    sent = fake_venice[0].requests[-1]
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}
    assert sent["model"] == "qwen3-4b"
    assert sent["max_tokens"] == 50
    assert sent["messages"][0] == {"role": "system", "content": "Be brief."}
    assert sent["venice_parameters"]["include_venice_system_prompt"] is False
    assert sent["venice_parameters"]["strip_thinking_response"] is False


@pytest.mark.parametrize(
    ("scenario", "text", "thinking"),
    [
        ("inline", "It is four.", "Simple arithmetic."),
        ("unclosed", "", "Let me think about this for a long time"),
        ("plain", "Hello from Venice.", ""),
    ],
)
async def test_inline_thinking_split_across_chunks(
    venice: VeniceChat,
    fake_venice: tuple[FakeVenice, str],
    scenario: str,
    text: str,
    thinking: str,
) -> None:
    fake_venice[0].scenario = scenario
    reply = await complete(venice, MESSAGES, ChatOptions())
    assert (reply.text, reply.thinking) == (text, thinking)


@pytest.mark.parametrize(
    ("scenario", "status", "code", "words"),
    [
        ("429", 503, "upstream_rate_limited", "rate limited"),
        ("500", 502, "upstream_error", "Inference failed"),
        ("503", 503, "upstream_unavailable", "capacity"),
        ("504", 504, "upstream_timeout", "timed out"),
        ("402", 502, "upstream_error", "Insufficient USD"),
        ("context", 400, "upstream_rejected", "maximum context length"),
    ],
)
async def test_upstream_errors_map_to_gateway_statuses(
    venice: VeniceChat,
    fake_venice: tuple[FakeVenice, str],
    scenario: str,
    status: int,
    code: str,
    words: str,
) -> None:
    fake_venice[0].scenario = scenario
    with pytest.raises(VoiceError) as caught:
        await complete(venice, MESSAGES, ChatOptions())
    assert http_status(caught.value)[0] == status
    assert caught.value.code == code
    assert "venice" in caught.value.message and words in caught.value.message
    if scenario == "429":  # the reset from x-ratelimit-reset-requests
        assert caught.value.retry_after == 7.0
        assert voice_error_response(caught.value).headers["retry-after"] == "7"


async def test_wrong_key_is_a_502_naming_venice(fake_venice: tuple[FakeVenice, str]) -> None:
    provider = VeniceChat(settings(fake_venice[1], key="wrong"))
    with pytest.raises(VoiceError) as caught:
        await complete(provider, MESSAGES, ChatOptions())
    await provider.close()
    assert http_status(caught.value)[0] == 502
    assert caught.value.code == "upstream_auth_failed"
    assert "401" in caught.value.message and "Authentication failed" in caught.value.message


async def test_slow_upstream_is_504(fake_venice: tuple[FakeVenice, str]) -> None:
    fake_venice[0].scenario = "slow"
    slow = settings(fake_venice[1]).model_copy(update={"timeout_seconds": 0.5})
    provider = VeniceChat(slow)
    with pytest.raises(VoiceError) as caught:
        await complete(provider, MESSAGES, ChatOptions())
    await provider.close()
    assert http_status(caught.value)[0] == 504 and "did not answer in time" in caught.value.message


async def test_unreachable_server_is_503() -> None:
    provider = VeniceChat(settings(f"http://127.0.0.1:{free_port()}/api/v1"))
    with pytest.raises(VoiceError) as caught:
        await complete(provider, MESSAGES, ChatOptions())
    await provider.close()
    assert http_status(caught.value)[0] == 503
    assert "unreachable" in caught.value.message


def test_the_fake_is_strict(fake_venice: tuple[FakeVenice, str]) -> None:
    """What the real API rejects, the fake rejects (so a lax client cannot pass)."""
    url = f"{fake_venice[1]}/chat/completions"
    auth = {"Authorization": f"Bearer {KEY}"}
    base = {"model": "qwen3-4b", "messages": [{"role": "user", "content": "hi"}]}
    bad_bodies = [
        {"messages": base["messages"]},
        {**base, "messages": []},
        {**base, "venice_parameters": {"include_venice_system_prompt": "no"}},
        {**base, "venice_parameters": {"enable_web_search": "sometimes"}},
        {**base, "venice_parameters": {"made_up": True}},
        {**base, "stream_options": {"include_usage": True}},
    ]
    for body in bad_bodies:
        reply = httpx.post(url, json=body, headers=auth)
        assert reply.status_code == 400, body
        assert reply.json()["details"]["_errors"]
    assert httpx.post(url, json=base).status_code == 401
    fake_venice[0].scenario = "plain"
    ok = httpx.post(url, json=base, headers=auth)
    assert ok.status_code == 200
    assert ok.json()["choices"][0]["message"]["content"] == "Hello from Venice."
    assert ok.headers["x-ratelimit-remaining-requests"] == "49"


def test_registry_picks_venice_only_with_a_key() -> None:
    assert resolve_name(ChatSettings()) == "local"
    assert resolve_name(settings("http://x")) == "venice"
    keyed = ChatSettings(venice=VeniceSettings(api_key=SecretStr("k")))
    assert resolve_name(keyed) == "venice"
    with pytest.raises(ValueError, match="valid: auto, venice"):
        build_chat_provider(ChatSettings(provider="nope"))


async def test_the_stream_gives_thinking_then_text_then_usage(
    venice: VeniceChat, fake_venice: tuple[FakeVenice, str]
) -> None:
    fake_venice[0].scenario = "reasoning"
    events = [event async for event in venice.stream(MESSAGES, ChatOptions())]
    kinds = [type(event).__name__ for event in events]
    assert kinds == ["ThinkingDelta", "ThinkingDelta", "TextDelta", "TextDelta", "ChatEnd"]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Two plus two is four."
    end = events[-1]
    assert isinstance(end, ChatEnd) and end.usage == {"prompt_tokens": 12, "completion_tokens": 7}


async def test_an_error_mid_stream_is_an_upstream_error_after_the_text_so_far(
    venice: VeniceChat, fake_venice: tuple[FakeVenice, str]
) -> None:
    fake_venice[0].scenario = "broken"
    received: list[str] = []

    async def read() -> None:
        async for event in venice.stream(MESSAGES, ChatOptions()):
            if isinstance(event, TextDelta):
                received.append(event.text)

    with pytest.raises(VoiceError) as caught:
        await read()
    assert received == ["This sentence arrives. "]
    assert http_status(caught.value)[0] == 502 and "mid-stream" in caught.value.message
