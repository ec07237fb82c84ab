"""From text, arriving whole or in pieces, to audio blocks sentence by sentence: the
pipeline behind both streaming calls.

Sentences are cut from the pieces as soon as their end is certain
(shared.text.SentenceBuffer) and start synthesizing at once, at most `lookahead`
sentences ahead of the one being sent (sentence i+1 runs while sentence i goes out).
The first sentence runs at URGENT priority: the listener is waiting for it, while later
sentences are only needed by the time the earlier ones have played. Closing the
iterator (a cancelled call) stops the reading of text and every sentence not yet sent."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from model_server.backends.base import FloatArray
from model_server.batching import ModelRunner, StreamHandle
from model_server.errors import InvalidRequestError, text_error
from model_server.planning import Plan
from model_server.slots import NORMAL, URGENT
from shared.speakable import TextIssue, TextRejected, check_characters, has_speakable
from shared.text import FIRST_CLAUSE_WORDS, SentenceBuffer
from voice_contract.reasons import Reason


@dataclass(frozen=True)
class SentenceStart:
    """The blocks that follow are this sentence's."""

    text: str


@dataclass(frozen=True)
class SentenceEnd:
    """The sentence's blocks have all been given."""


async def sentence_audio(
    runner: ModelRunner,
    plan: Plan,
    texts: AsyncIterator[str],
    max_chars: int,
    lookahead: int = 2,
    first_clause: bool = False,
) -> AsyncIterator[SentenceStart | SentenceEnd | FloatArray]:
    """For each sentence of `texts`, in order: its SentenceStart, its audio, its
    SentenceEnd (with `first_clause`, the first clause counts as a sentence).
    Raises InvalidRequestError for text a voice cannot speak (a control character, more
    than `max_chars` in all, nothing to say at all)."""
    ready: asyncio.Queue[tuple[str, StreamHandle] | Exception | None] = asyncio.Queue()
    room = asyncio.Semaphore(lookahead)
    started: list[StreamHandle] = []

    async def start(sentence: str) -> None:
        if not has_speakable(sentence):
            return  # "!!!" between two sentences: nothing to synthesize
        await room.acquire()
        handle = runner.start_stream(plan.job(sentence), URGENT if not started else NORMAL)
        started.append(handle)
        ready.put_nowait((sentence, handle))

    async def produce() -> None:
        buffer = SentenceBuffer(first_clause_words=FIRST_CLAUSE_WORDS if first_clause else 0)
        received = 0
        try:
            async for piece in texts:
                _check_piece(piece, received, max_chars)
                received += len(piece)
                for sentence in buffer.feed(piece):
                    await start(sentence)
            for sentence in buffer.close():
                await start(sentence)
            if not started:
                issue = TextIssue.NOT_SPEAKABLE if received else TextIssue.EMPTY
                raise text_error(TextRejected(issue, "the text has nothing to speak"))
            ready.put_nowait(None)
        except Exception as exc:  # the consumer raises it in order, after what came first
            ready.put_nowait(exc)

    producer = asyncio.create_task(produce())
    try:
        while (item := await ready.get()) is not None:
            if isinstance(item, Exception):
                raise item
            sentence, handle = item
            yield SentenceStart(sentence)
            async for block in handle:
                yield block
            yield SentenceEnd()
            room.release()
    finally:
        producer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await producer
        for handle in started:
            handle.cancel()


def _check_piece(piece: str, received: int, max_chars: int) -> None:
    try:
        check_characters(piece)
    except TextRejected as exc:
        index = exc.position or 0
        position = received + index
        raise text_error(
            TextRejected(
                exc.issue,
                f"text has a control character (U+{ord(piece[index]):04X}) at position "
                f"{position}; send plain text",
                position,
            )
        ) from None
    if received + len(piece) > max_chars:
        raise InvalidRequestError(
            f"text has more than {max_chars} characters; at most {max_chars} allowed",
            reason=Reason.TEXT_TOO_LONG,
            field="text",
        )
