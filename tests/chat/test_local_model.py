"""The embedded SmolLM2-135M-Instruct answers a real question, offline, in-process."""

from __future__ import annotations

import pytest

from voice_worker.chat.base import ChatMessage, ChatOptions, TextDelta, complete
from voice_worker.chat.local import LocalChat, bundled_model_path


async def test_smollm2_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # nothing may be downloaded
    path = bundled_model_path()
    assert path.suffix == ".gguf" and path.stat().st_size > 50 * 2**20
    chat = LocalChat()
    try:
        reply = await complete(
            chat,
            [
                ChatMessage("system", "You are a helpful assistant. Answer in one sentence."),
                ChatMessage("user", "What is the capital of France?"),
            ],
            ChatOptions(max_tokens=40, temperature=0.0),
        )
    finally:
        await chat.close()
    assert reply.text.strip()
    assert "paris" in reply.text.lower()
    assert reply.usage["completion_tokens"] > 0


async def test_smollm2_streams_and_stops_when_the_stream_is_closed() -> None:
    """Text arrives token by token; closing the stream ends the generation after the
    token in progress: the model is free again at once, far short of max_tokens."""
    chat = LocalChat()
    messages = [
        ChatMessage("system", "You are a storyteller."),
        ChatMessage("user", "Tell me a very long story about a dragon."),
    ]
    try:
        stream = chat.stream(messages, ChatOptions(max_tokens=400, temperature=0.0))
        deltas = []
        async for event in stream:
            if isinstance(event, TextDelta):
                deltas.append(event.text)
            if len(deltas) == 3:
                break
        await stream.aclose()
        assert chat._lock.acquire(blocking=False), "the generation thread still holds the model"
        chat._lock.release()
        assert chat._llama.n_tokens < 200  # prompt and a few tokens, not 400 more
        whole = await complete(chat, messages, ChatOptions(max_tokens=20, temperature=0.0))
        assert whole.text.startswith("".join(deltas).strip()[:10])  # same start, greedy
        assert whole.usage["completion_tokens"] <= 20
    finally:
        await chat.close()
