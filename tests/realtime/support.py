"""Helpers for realtime tests: the protocol's audio (jfk.flac as pcm16 24 kHz, in 20 ms
frames), and reading a connection's events until one of a kind."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any, Protocol

import numpy as np
from openai.types.realtime import RealtimeConversationItemUserMessageParam

from harness.processes import DATA
from shared.audio.decoding import decode as decode_file

RATE = 24_000
FRAME = RATE * 2 // 50  # 20 ms of pcm16
SILENCE_FRAME = b"\0" * FRAME
#: a typed user message, as clients send it with conversation.item.create
TYPED: RealtimeConversationItemUserMessageParam = {
    "type": "message",
    "role": "user",
    "content": [{"type": "input_text", "text": "Hm?"}],
}


@cache
def jfk_pcm() -> bytes:
    samples = decode_file((DATA / "jfk.flac").read_bytes(), RATE).samples
    return (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()


def frames(pcm: bytes, size: int = FRAME) -> Iterator[str]:
    """`pcm` as base64 frames of 20 ms."""
    for i in range(0, len(pcm), size):
        yield base64.b64encode(pcm[i : i + size]).decode()


def silence(seconds: float) -> bytes:
    return b"\0" * (int(RATE * seconds) * 2)


def wav(pcm: bytes) -> bytes:
    from shared.audio.encoding import wav_header

    return wav_header(RATE, len(pcm)) + pcm


class Receives(Protocol):
    async def recv(self) -> Any: ...


async def until(
    connection: Receives,
    done: Callable[[Any], bool],
    seen: list[Any] | None = None,
    timeout: float = 60.0,
) -> Any:
    """Events of `connection` (kept in `seen`) up to the first for which `done` is true."""

    async def read() -> Any:
        while True:
            event = await connection.recv()
            if seen is not None:
                seen.append(event)
            if done(event):
                return event

    return await asyncio.wait_for(read(), timeout)


async def recv(connection: Receives) -> Any:
    """The next event (typed loosely: the SDK's union of every event)."""
    return await connection.recv()


def of_type(*kinds: str) -> Callable[[Any], bool]:
    return lambda event: event.type in kinds
