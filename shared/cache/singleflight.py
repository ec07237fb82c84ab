"""Single flight for byte streams: concurrent identical misses produce once.

`flights.join(key, produce)` returns a `Flight`. The first caller for `key` starts
`produce()` (an async iterator of byte chunks) in a background task; everyone who
joins while it runs reads the same chunks from the start, as they arrive. The task
does not depend on any one reader: a client that disconnects does not stop the
others (or the cache fill in `on_done`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

log = logging.getLogger(__name__)

Producer = Callable[[], AsyncIterator[bytes]]
OnDone = Callable[[bytes], Awaitable[None]]


class Flight:
    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.done = False
        self.error: BaseException | None = None
        self._changed = asyncio.Event()

    def _push(self, chunk: bytes) -> None:
        self.chunks.append(chunk)
        self._wake()

    def _finish(self, error: BaseException | None = None) -> None:
        self.done, self.error = True, error
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def first(self) -> bytes:
        """The first chunk (waits for it); raises the producer's error if it failed
        before producing anything. b"" when it finished empty."""
        while not self.chunks:
            if self.done:
                if self.error is not None:
                    raise self.error
                return b""
            await self._changed.wait()
        return self.chunks[0]

    async def read(self) -> AsyncIterator[bytes]:
        """Every chunk from the start; raises the producer's error where it happened."""
        index = 0
        while True:
            if index < len(self.chunks):
                index += 1
                yield self.chunks[index - 1]
            elif self.done:
                if self.error is not None:
                    raise self.error
                return
            else:
                await self._changed.wait()

    async def whole(self) -> bytes:
        return b"".join([chunk async for chunk in self.read()])


class SingleFlight:
    def __init__(self) -> None:
        self._flights: dict[str, Flight] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.started = 0  # producers run
        self.joined = 0  # callers that shared a flight already in progress

    def join(self, key: str, produce: Producer, on_done: OnDone | None = None) -> Flight:
        flight = self._flights.get(key)
        if flight is not None:
            self.joined += 1
            return flight
        flight = self._flights[key] = Flight()
        self.started += 1
        task = asyncio.get_running_loop().create_task(self._run(key, flight, produce, on_done))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return flight

    async def _run(
        self, key: str, flight: Flight, produce: Producer, on_done: OnDone | None
    ) -> None:
        try:
            try:
                async for chunk in produce():
                    if chunk:
                        flight._push(chunk)
            except asyncio.CancelledError:
                flight._finish(RuntimeError("synthesis cancelled (the worker is shutting down)"))
                raise
            except Exception as exc:
                flight._finish(exc)
                return
            flight._finish()
            if on_done is not None:  # before the flight goes: late joiners read it whole
                try:
                    await on_done(b"".join(flight.chunks))
                except Exception:
                    log.exception("single flight: on_done failed", extra={"key": key})
        finally:
            self._flights.pop(key, None)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
