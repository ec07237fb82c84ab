"""Replies written ahead (LiveKit calls it preemptive generation): when a speaker falls
silent, the chat reply to what they said so far is written at once, before anyone
knows whether they are done; if they are, the turn's reply takes what was written
instead of asking the chat model again, so its first words are ready when it starts.

A speculation is the chat call alone: its prompt (`Ask`: the messages and the options,
built exactly as the turn builds its own) and the events it writes, kept in memory. It
sends nothing, stores nothing and speaks nothing. `Speculations.take` gives a turn the
speculation of its session when the turn's own prompt is the same (the same user words,
the same history, the same persona and options): the events already written, then the
rest as they come. Any other speculation of the session is dropped there, and one is
dropped at once when the speaker goes on (`Speculation.cancel`): its generation stops.

The chat events written are counted (voice_worker_speculative_tokens_total, one a token
for the local model): `used` when a turn took them, `wasted` when they were dropped."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from voice_worker.chat.base import ChatEnd, ChatEvent, ChatMessage, ChatOptions
from voice_worker.observability import metrics


@dataclass(frozen=True)
class Ask:
    """One chat call: compared whole, so a speculation serves only the same prompt."""

    messages: tuple[ChatMessage, ...]
    options: ChatOptions


Prepare = Callable[[], Coroutine[Any, Any, Ask | None]]
Write = Callable[[Ask], AsyncGenerator[ChatEvent, None]]


class Speculation:
    """One reply being written ahead, in a task of its own."""

    def __init__(self, prepare: Prepare, write: Write) -> None:
        self.ask: Ask | None = None
        self.events: list[ChatEvent] = []
        self.failure: Exception | None = None
        self.done = False
        self.outcome: str | None = None  # used / wasted, once counted
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._run(prepare, write))

    async def _run(self, prepare: Prepare, write: Write) -> None:
        try:
            self.ask = await prepare()
            if self.ask is None:
                return
            async with contextlib.aclosing(write(self.ask)) as events:
                async for event in events:
                    self.events.append(event)
                    self._changed.set()
        except Exception as exc:  # told to the turn that takes it, if one does
            self.failure = exc
        finally:
            self.done = True
            self._changed.set()

    @property
    def tokens(self) -> int:
        return sum(1 for event in self.events if not isinstance(event, ChatEnd))

    async def prepared(self) -> Ask | None:
        """Its prompt, once built (None: it could not be, or it was cancelled)."""
        while self.ask is None and not self.done:
            self._changed.clear()
            await self._changed.wait()
        return self.ask

    def cancel(self) -> None:
        """Dropped: its generation stops; what it wrote is counted as wasted."""
        if self.outcome is None:
            self._task.cancel()
            self._count("wasted")

    async def stopped(self) -> None:
        """Wait until its generation has stopped (the chat model is free again)."""
        await asyncio.gather(self._task, return_exceptions=True)

    def _count(self, outcome: str) -> None:
        self.outcome = outcome
        metrics.speculative(outcome, self.tokens)

    def replay(self) -> AsyncGenerator[ChatEvent, None]:
        """Taken by a turn: every event, those written already and the rest as they come.
        Closed (even before it is read), the generation stops and is counted as used."""
        return _Replay(self)

    async def _events(self) -> AsyncGenerator[ChatEvent, None]:
        index = 0
        while True:
            if index < len(self.events):
                index += 1
                yield self.events[index - 1]
                continue
            if self.done:
                if self.failure is not None:
                    raise self.failure
                return
            self._changed.clear()
            await self._changed.wait()

    async def _release(self) -> None:
        if self.outcome == "used":
            return
        self._count("used")
        self._task.cancel()
        await self.stopped()


class _Replay(AsyncGenerator[ChatEvent, None]):
    """A speculation's events for the turn that took it; closing it releases the
    speculation whether or not it was read (a generator not yet started would run no
    `finally`)."""

    def __init__(self, speculation: Speculation) -> None:
        self._speculation = speculation
        self._events = speculation._events()

    async def asend(self, value: None) -> ChatEvent:
        try:
            return await self._events.asend(value)
        except BaseException:
            await self._speculation._release()
            raise

    async def athrow(self, *args: Any) -> ChatEvent:
        return await self._events.athrow(*args)

    async def aclose(self) -> None:
        try:
            await self._events.aclose()
        finally:
            await self._speculation._release()


class Speculations:
    """The replies written ahead in one process: at most one per session."""

    def __init__(self) -> None:
        self._by_session: dict[str, Speculation] = {}

    def start(self, session_id: str, prepare: Prepare, write: Write) -> Speculation:
        """A reply written ahead for `session_id` (one there already is dropped)."""
        self.drop(session_id)
        speculation = Speculation(prepare, write)
        self._by_session[session_id] = speculation
        return speculation

    def drop(self, session_id: str, speculation: Speculation | None = None) -> None:
        """The session's speculation (or only `speculation`, if it is the session's)
        dropped."""
        current = self._by_session.get(session_id)
        if current is not None and (speculation is None or speculation is current):
            del self._by_session[session_id]
            current.cancel()
        elif speculation is not None:
            speculation.cancel()

    async def take(self, session_id: str, ask: Ask) -> AsyncGenerator[ChatEvent, None] | None:
        """The events of the session's speculation if it asked `ask`; else None (and
        the speculation, if any, dropped: its generation stopped before this returns)."""
        speculation = self._by_session.pop(session_id, None)
        if speculation is None:
            return None
        usable = await speculation.prepared() == ask and speculation.outcome is None
        if usable and not (speculation.done and speculation.failure is not None):
            speculation.outcome = "taken"
            return speculation.replay()
        speculation.cancel()
        await speculation.stopped()
        return None

    def __len__(self) -> int:
        return len(self._by_session)
