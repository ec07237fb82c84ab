"""Prompt reuse of the local model (chat.prompt_states): the chat's first token on turns
2 to 5 of a conversation, with the kept states off, with llama-cpp-python's own
LlamaRAMCache (what the worker used before) and with chat.prompt_states, for one session
alone and for two sessions whose turns alternate (each turn then follows the other
session's); the prompt tokens llama.cpp evaluated (its own count) and the memory the
kept prompts hold.
The turns go through the VoiceChatEngine and its store, so each prompt is the history
as stored and rendered again; speech is left out (a speaker that says nothing)."""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import AsyncGenerator, AsyncIterator
from pathlib import Path
from typing import Any

from bench.report import median, print_table, write_result
from voice_worker.auth.principal import ANONYMOUS
from voice_worker.chat.local import LocalChat
from voice_worker.chat.settings import ChatSettings
from voice_worker.conversation.engine import VoiceChatEngine
from voice_worker.store.base import SessionSettings
from voice_worker.store.sql import open_store
from voice_worker.tts.base import SpeechOptions, SpeechPiece

TURNS = 5
CAPACITY = 256 * 2**20
QUESTIONS = [
    ["What is the capital of France?", "And its largest museum?", "How old is it?",
     "What is its most famous painting?", "Who painted it?"],
    ["Name a fruit that is yellow.", "Is it healthy?", "Where does it grow?",
     "How do I keep it fresh?", "Can dogs eat it?"],
]  # fmt: skip


class Silent:
    """A speaker that reads the text and says nothing: only the chat is measured."""

    async def stream_text(
        self, texts: AsyncIterator[str], options: SpeechOptions
    ) -> AsyncGenerator[SpeechPiece, None]:
        async for _ in texts:
            pass
        return
        yield  # pragma: no cover

    async def speak_known(
        self, text: str, options: SpeechOptions
    ) -> AsyncGenerator[SpeechPiece, None]:
        return
        yield  # pragma: no cover


MODES = ("off", "LlamaRAMCache", "kept")


def evaluated_so_far(chat: LocalChat) -> int:
    """Prompt tokens llama.cpp has evaluated in this model's context (its own count)."""
    import llama_cpp

    return int(llama_cpp.llama_perf_context(chat._llama._ctx.ctx).n_p_eval)


def held_mb(chat: LocalChat, mode: str) -> float:
    """Memory the kept prompts hold: chat.prompt_states' bytes, or LlamaRAMCache's
    states with the logits copy each carries (which its capacity does not count)."""
    if mode == "kept":
        return chat.states.size / 2**20
    cache = chat._llama.cache
    if cache is None:
        return 0.0
    held = sum(st.llama_state_size + st.scores.nbytes for st in cache.cache_state.values())
    return float(held) / 2**20


async def run(directory: Path, sessions: int) -> list[dict[str, Any]]:
    """The modes' conversations in lockstep (turn k of each mode, then turn k+1), so a
    busy machine slows them alike."""
    engines, chats = {}, {}
    ids: dict[str, list[str]] = {}
    for mode in MODES:
        store = await open_store(f"sqlite:///{directory}/{mode}-{sessions}.db")
        chat = LocalChat(prompt_cache_bytes=CAPACITY if mode == "kept" else 0)
        engine = VoiceChatEngine(store, chat, Silent(), ChatSettings(max_tokens=60, temperature=0))
        warm = await store.create_session(SessionSettings())
        await engine.process_text_only(warm.id, "Hello!", ANONYMOUS)  # model load
        if mode == "LlamaRAMCache":
            from llama_cpp.llama_cache import LlamaRAMCache

            chat._llama.set_cache(LlamaRAMCache(capacity_bytes=CAPACITY))
        engines[mode], chats[mode] = engine, chat
        ids[mode] = [(await store.create_session(SessionSettings())).id for _ in range(sessions)]
    first: dict[str, list[float]] = {mode: [] for mode in MODES}
    later: dict[str, list[float]] = {mode: [] for mode in MODES}
    evaluated: dict[str, list[int]] = {mode: [] for mode in MODES}
    for turn in range(TURNS):
        for mode in MODES:
            for index, sid in enumerate(ids[mode]):
                before = evaluated_so_far(chats[mode])
                result = await engines[mode].process_text_only(
                    sid, QUESTIONS[index][turn], ANONYMOUS
                )
                seconds = result.timings["chat_first_token"]
                (first if turn == 0 else later)[mode].append(seconds)
                if turn:
                    evaluated[mode].append(evaluated_so_far(chats[mode]) - before)
    rows = []
    for mode in MODES:
        rows.append(
            {
                "prompt states": mode,
                "sessions": "2 interleaved" if sessions > 1 else "1",
                "turn 1 first token ms": median(first[mode]) * 1000,
                "turns 2-5 first token ms (median)": median(later[mode]) * 1000,
                "turns 2-5 max ms": max(later[mode]) * 1000,
                "prompt tokens evaluated (median)": median(evaluated[mode]),
                "held MB": round(held_mb(chats[mode], mode), 1),
            }
        )
        await chats[mode].close()
        await engines[mode].store.close()
    return rows


async def both(directory: Path) -> list[dict[str, Any]]:
    return [*await run(directory, 1), *await run(directory, 2)]


def main() -> None:
    logging.getLogger("voice_worker.conversation.adapters").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        rows = asyncio.run(both(Path(tmp)))
    print_table("local chat prompt reuse (SmolLM2, temperature 0, 60-token replies)", rows)
    write_result("prompt_reuse", {"rows": rows, "turns": TURNS})


if __name__ == "__main__":
    main()
