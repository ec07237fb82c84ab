"""Reading events with the `wyoming` package's framing, bounded: a header may announce
any `data_length` and `payload_length`, and the package would buffer that many bytes.
`BoundedReader` hands the package the connection's reader but refuses, before reading
it, any part longer than the limit (the worker's largest upload, VOICE_STT__MAX_BYTES).
A header line itself is bounded by the stream's 64 KiB line limit."""

from __future__ import annotations

import asyncio
from typing import cast

from wyoming.event import Event, async_read_event


class EventTooLarge(Exception):
    """Not a ValueError: the package swallows those (as end of stream)."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"an event part of {size} bytes; at most {limit} are accepted")


class BoundedReader:
    def __init__(self, reader: asyncio.StreamReader, limit: int) -> None:
        self.reader = reader
        self.limit = limit

    async def readline(self) -> bytes:
        return await self.reader.readline()

    async def readexactly(self, n: int) -> bytes:
        if n > self.limit:
            raise EventTooLarge(n, self.limit)
        return await self.reader.readexactly(n)

    def at_eof(self) -> bool:
        return self.reader.at_eof()


async def read_event(reader: BoundedReader) -> Event | None:
    """The next event; None at the end of the stream or for a header that is not JSON."""
    return await async_read_event(cast(asyncio.StreamReader, reader))
