"""Speaking while the model writes: the chat reply's text goes to speech as it
streams, so the first sentence is heard while the next is still being written.

`speak_while_writing` runs the two side by side (the chat model writing, the voice
speaking what was written so far) and hands out their events in the order they happen:
the chat's TextDelta / ThinkingDelta / ChatEnd, and the speech's SpeechPieces. Either
side failing stops both and raises; closing the iterator (a client gone) cancels both,
which closes the chat upstream and the synthesis call."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Coroutine
from typing import Any

from shared.speakable import strip_controls
from voice_worker.chat.base import ChatEvent, TextDelta, ToolCall
from voice_worker.tts.base import SpeechPiece

Speak = Callable[[AsyncIterator[str]], AsyncGenerator[SpeechPiece, None]]
_FINISHED = object()


async def speak_while_writing(
    chat: AsyncGenerator[ChatEvent | ToolCall, None], speak: Speak
) -> AsyncGenerator[ChatEvent | ToolCall | SpeechPiece, None]:
    out: asyncio.Queue[Any] = asyncio.Queue()
    written: asyncio.Queue[str | None] = asyncio.Queue()

    async def write() -> None:
        try:
            async with contextlib.aclosing(chat):
                async for event in chat:
                    if isinstance(event, TextDelta):
                        text = strip_controls(event.text)  # the model's output, cleaned
                        if not text:
                            continue
                        written.put_nowait(text)
                        event = TextDelta(text)
                    out.put_nowait(event)
        finally:
            written.put_nowait(None)

    async def say() -> None:
        first = await written.get()
        if first is None:
            return  # nothing was written (the writer reports why)

        async def texts() -> AsyncIterator[str]:
            yield first
            while (text := await written.get()) is not None:
                yield text

        async with contextlib.aclosing(speak(texts())) as pieces:
            async for piece in pieces:
                out.put_nowait(piece)

    tasks = [asyncio.create_task(_reported(side(), out)) for side in (write, say)]
    try:
        finished = 0
        while finished < len(tasks):
            item = await out.get()
            if item is _FINISHED:
                finished += 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _reported(work: Coroutine[Any, Any, None], out: asyncio.Queue[Any]) -> None:
    try:
        await work
    except Exception as exc:
        out.put_nowait(exc)
    else:
        out.put_nowait(_FINISHED)
