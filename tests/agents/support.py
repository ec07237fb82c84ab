"""What the framework tests share: a microphone that is on (20 ms frames on the wall
clock, silence between what it says: a client's `response.cancel` on speech comes long
before the speech ends, as in a call), silence, hearing a reply back (the worker's own
/v1/audio/transcriptions, through the official SDK) to compare words, and waiting for
what a framework's callbacks collect."""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections.abc import Awaitable, Callable, Iterator

from openai import AsyncOpenAI

RATE = 24_000
FRAME = RATE * 2 // 50  # 20 ms of pcm16 mono


def frames(pcm: bytes, size: int = FRAME) -> Iterator[bytes]:
    for i in range(0, len(pcm), size):
        yield pcm[i : i + size]


class Microphone:
    """A microphone that is on, as in a call: 20 ms frames on the wall clock, silence but
    for what it is told to `say` (a turn detector waiting for more audio gets it)."""

    def __init__(self, send: Callable[[bytes], Awaitable[None]]) -> None:
        self.send = send
        self.queue = bytearray()
        self.said = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Microphone:
        self.task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.task is not None
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)

    async def say(self, pcm: bytes) -> None:
        """Speak `pcm` (after what is still being said); back once it has gone out."""
        self.queue += pcm
        self.said.clear()
        await self.said.wait()

    async def _run(self) -> None:
        start = time.monotonic()
        for i in itertools.count(1):
            frame = bytes(self.queue[:FRAME]).ljust(FRAME, b"\0")
            del self.queue[:FRAME]
            await self.send(frame)
            if not self.queue:
                self.said.set()
            await asyncio.sleep(max(0.0, start + i * 0.02 - time.monotonic()))


def silence(seconds: float) -> bytes:
    return b"\0" * (int(RATE * seconds) * 2)


def seconds(pcm: bytes) -> float:
    return len(pcm) / (RATE * 2)


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def wav(pcm: bytes, rate: int = RATE) -> bytes:
    import struct

    header = b"RIFF" + struct.pack("<I", 36 + len(pcm)) + b"WAVEfmt "
    header += struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
    return header + b"data" + struct.pack("<I", len(pcm)) + pcm


async def heard(worker: str, pcm: bytes) -> str:
    """What the engine's speech-to-text hears in `pcm` (pcm16 24 kHz)."""
    client = AsyncOpenAI(base_url=f"{worker}/v1", api_key="not-needed", max_retries=0)
    result = await client.audio.transcriptions.create(
        model="whisper-1", file=("reply.wav", wav(pcm), "audio/wav"), language="en"
    )
    return result.text


async def until(done: Callable[[], bool], timeout: float = 60.0, step: float = 0.02) -> None:
    """Wait until `done()` (the framework's callbacks fill what it reads)."""
    for _ in range(int(timeout / step)):
        if done():
            return
        await asyncio.sleep(step)
    raise TimeoutError(f"not done after {timeout} s")
