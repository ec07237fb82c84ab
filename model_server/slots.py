"""`PrioritySlots`: a semaphore whose waiters are served by priority, then in order of
arrival. The model runners use it so that the first sentence of a reply (someone is
waiting to hear it) takes the next free slot before later sentences of other replies."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections.abc import AsyncIterator

#: the first sentence of a reply
URGENT = 0
#: everything else
NORMAL = 1


class PrioritySlots:
    def __init__(self, slots: int) -> None:
        self._free = slots
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    @property
    def waiting(self) -> int:
        return sum(not future.done() for _, _, future in self._waiters)

    async def acquire(self, priority: int = NORMAL) -> None:
        if self._free > 0 and not self.waiting:
            self._free -= 1
            return
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (priority, next(self._order), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # granted as we were cancelled: hand it on
            raise

    def release(self) -> None:
        while self._waiters:
            _, _, future = heapq.heappop(self._waiters)
            if not future.done():  # cancelled waiters are skipped
                future.set_result(None)
                return
        self._free += 1

    @contextlib.asynccontextmanager
    async def slot(self, priority: int = NORMAL) -> AsyncIterator[None]:
        await self.acquire(priority)
        try:
            yield
        finally:
            self.release()
