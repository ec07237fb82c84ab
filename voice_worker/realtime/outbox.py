"""What goes to the client, in order, without letting a slow client grow memory.

Producers `put` events (never waiting: a response is produced faster than it is heard);
one writer task sends them. The queue is bounded in bytes (VOICE_REALTIME__MAX_QUEUED_
BYTES): past it the client is not reading, and the connection ends (`overflowed`).
An event may belong to a response (`Owner`): once the response is cancelled, its
queued deltas are dropped instead of sent, and an audio delta is counted as heard only
when the writer hands it to the socket (`Owner.sent`), so a cancelled or truncated
reply is stored as far as it really went out."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from pydantic import BaseModel

log = logging.getLogger(__name__)

Encode = Callable[[BaseModel], "str | None"]
Send = Callable[[str], Awaitable[None]]


@dataclass(frozen=True)
class AudioMark:
    """What an audio delta carries for the heard-text accounting."""

    seconds: float
    text: str = ""  # where a sentence begins
    text_start: float = 0.0
    voiced: tuple[float, float] | None = None  # where the voice is loud in it


class Owner(Protocol):
    """The response an event belongs to."""

    @property
    def cancelled(self) -> bool: ...

    def sent(self, audio: AudioMark) -> None: ...


@dataclass(frozen=True)
class _Entry:
    text: str
    owner: Owner | None
    audio: AudioMark | None


class Outbox:
    def __init__(self, encode: Encode, max_bytes: int) -> None:
        self.encode = encode
        self.max_bytes = max_bytes
        self.queued_bytes = 0
        self._entries: deque[_Entry] = deque()
        self._ready = asyncio.Event()
        self._empty = asyncio.Event()
        self.overflowed = asyncio.Event()
        self.sent_events = 0

    def put(
        self, event: BaseModel, owner: Owner | None = None, audio: AudioMark | None = None
    ) -> None:
        if self.overflowed.is_set():
            return
        text = self.encode(event)
        if text is None:
            return
        if self.queued_bytes + len(text) > self.max_bytes:
            log.warning(
                "realtime client too slow: its unsent events passed the limit",
                extra={"queued_bytes": self.queued_bytes, "limit": self.max_bytes},
            )
            self.overflowed.set()
            self._entries.clear()
            self._ready.set()
            return
        self._entries.append(_Entry(text, owner, audio))
        self.queued_bytes += len(text)
        self._ready.set()

    async def run(self, send: Send) -> None:
        """The writer: sends until cancelled (or the queue overflows)."""
        while not self.overflowed.is_set():
            if not self._entries:
                self._ready.clear()
                self._empty.set()
                await self._ready.wait()
                continue
            self._empty.clear()
            entry = self._entries.popleft()
            self.queued_bytes -= len(entry.text)
            if entry.owner is not None and entry.owner.cancelled:
                continue  # a cancelled response's deltas are not sent
            if entry.owner is not None and entry.audio is not None:
                entry.owner.sent(entry.audio)
            await send(entry.text)
            self.sent_events += 1

    async def drained(self) -> None:
        """Wait until everything queued has been handed to the socket."""
        if self._entries:
            self._empty.clear()
            await self._empty.wait()
