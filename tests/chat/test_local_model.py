"""The embedded SmolLM2-135M-Instruct answers a real question, offline, in-process."""

from __future__ import annotations

import pytest

from voice_worker.chat.base import ChatMessage, ChatOptions, TextDelta, complete
from voice_worker.chat.local import LocalChat, bundled_model_path
from voice_worker.chat.settings import DEFAULT_ROLES


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


FOLLOW_UPS = ["How old is it?", "Is it sweet?"]


def prompt_evaluated(chat: LocalChat) -> int:
    """Prompt tokens llama.cpp has evaluated in this context so far (its own count)."""
    import llama_cpp

    return int(llama_cpp.llama_perf_context(chat._llama._ctx.ctx).n_p_eval)


async def test_a_conversations_next_turn_evaluates_only_its_new_words() -> None:
    """Two conversations, their turns interleaved: each next turn resumes from its own
    kept state (chat.prompt_states), so llama.cpp evaluates only the new words, not the
    history; without kept states the same turn re-reads it. The answers are those of
    each conversation run alone, where llama.cpp's own context holds its history
    (temperature 0): a kept state is restored exactly. (Re-reading a history in one
    batch rounds differently from reading it a token at a time, so a 135M model's
    near ties may go the other way: that comparison would not be exact.)"""
    system = ChatMessage("system", DEFAULT_ROLES["default"])
    questions = [
        ["What is the capital of France? Tell me about it.", "How old is it?"],
        ["Name a fruit that is yellow and say why people like it.", "Is it sweet?"],
    ]
    options = ChatOptions(max_tokens=24, temperature=0.0)

    async def run(kept: bool, interleaved: bool) -> tuple[dict[tuple[int, int], str], list[int]]:
        chat = LocalChat(prompt_cache_bytes=64 * 2**20 if kept else 0)
        talks = [[system], [system]]
        order = [(0, 0), (1, 0), (0, 1), (1, 1)]  # (conversation, turn)
        if not interleaved:
            order = sorted(order)
        answers, evaluated = {}, []
        ends: dict[int, int] = {}  # a conversation's last prompt and reply, in tokens
        try:
            for talk, turn in order:
                talks[talk].append(ChatMessage("user", questions[talk][turn]))
                chat.load()
                before = prompt_evaluated(chat)
                reply = await complete(chat, talks[talk], options)
                evaluated.append(prompt_evaluated(chat) - before)
                answers[talk, turn] = reply.text
                talks[talk].append(ChatMessage("assistant", reply.text))
                if kept and turn:  # it began with the last prompt and reply, exactly
                    # (but for a reply's last token when max_tokens cut it: never read)
                    assert ends[talk] - 1 <= reply.usage["cached_tokens"] <= ends[talk]
                ends[talk] = reply.usage["prompt_tokens"] + reply.usage["completion_tokens"]
            if kept:
                assert chat.states.loads >= 2 and 1 <= len(chat.states) <= 2
                assert chat.states.size <= 64 * 2**20
        finally:
            await chat.close()
        return answers, evaluated

    kept, evaluated = await run(kept=True, interleaved=True)
    _, reread = await run(kept=False, interleaved=True)
    alone, _ = await run(kept=False, interleaved=False)
    assert all(n < 25 for n in evaluated[2:]), evaluated  # the new question and the template's
    assert all(n > 2 * m for n, m in zip(reread[2:], evaluated[2:], strict=True)), reread
    assert evaluated[0] > 40  # the first prompt, cold (the second shares its persona)
    assert kept == alone
