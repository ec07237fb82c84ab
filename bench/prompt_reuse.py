"""Prompt reuse of the local model (chat.prompt_states): the chat's first token on turns
2 to 5 of a conversation, with the kept states off and on, for one session alone and
for two sessions whose turns alternate (each turn then follows the other session's).
The turns go through the VoiceChatEngine and its store, so each prompt is the history
as stored and rendered again; speech is left out (a speaker that says nothing)."""

from __future__ import annotations

import asyncio
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


async def conversations(directory: Path, kept: bool, sessions: int) -> dict[str, Any]:
    store = await open_store(f"sqlite:///{directory}/{kept}-{sessions}.db")
    chat = LocalChat(prompt_cache_bytes=256 * 2**20 if kept else 0)
    settings = ChatSettings(max_tokens=60, temperature=0.0)
    engine = VoiceChatEngine(store, chat, Silent(), settings)
    warm = await store.create_session(SessionSettings())
    await engine.process_text_only(warm.id, "Hello!", ANONYMOUS)  # model load
    ids = [(await store.create_session(SessionSettings())).id for _ in range(sessions)]
    first: list[float] = []
    later: list[float] = []
    evaluated: list[int] = []
    for turn in range(TURNS):
        for index, sid in enumerate(ids):
            result = await engine.process_text_only(sid, QUESTIONS[index][turn], ANONYMOUS)
            seconds = result.timings["chat_first_token"]
            if turn == 0:
                first.append(seconds)
            else:
                later.append(seconds)
                usage = result.usage
                evaluated.append(usage["prompt_tokens"] - usage.get("cached_tokens", 0))
    await chat.close()
    await store.close()
    return {
        "prompt states": "kept" if kept else "off",
        "sessions": "2 interleaved" if sessions > 1 else "1",
        "turn 1 first token ms": median(first) * 1000,
        "turns 2-5 first token ms (median)": median(later) * 1000,
        "turns 2-5 max ms": max(later) * 1000,
        "prompt tokens evaluated (median)": median(evaluated),
    }


async def run(directory: Path) -> list[dict[str, Any]]:
    rows = []
    for sessions in (1, 2):
        for kept in (False, True):
            rows.append(await conversations(directory, kept, sessions))
    return rows


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rows = asyncio.run(run(Path(tmp)))
    print_table("local chat prompt reuse (SmolLM2, temperature 0, 60-token replies)", rows)
    write_result("prompt_reuse", {"rows": rows, "turns": TURNS})


if __name__ == "__main__":
    main()
