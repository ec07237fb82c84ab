"""The embedded SmolLM2-135M-Instruct answers a real question, offline, in-process."""

from __future__ import annotations

import pytest

from voice_worker.chat.base import ChatMessage, ChatOptions, complete
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
