"""A turn stored under its Idempotency-Key, and told again: `turn_record` is the turn's
result as the key keeps it (conversation.idempotency stores it with the turn),
`turn_from_record` reads it back, and `replay` gives it as the events of a live turn."""

from __future__ import annotations

import base64
from collections.abc import AsyncGenerator
from dataclasses import asdict

from voice_worker.conversation.events import (
    AudioDelta,
    ReplyDelta,
    ThinkingDelta,
    Transcribed,
    TurnDone,
    TurnEvent,
)
from voice_worker.conversation.idempotency import Stored
from voice_worker.conversation.turn import TurnResult


def turn_record(result: TurnResult) -> Stored:
    """A turn's result as stored (the audio in base64; the store adds the ids)."""
    record = asdict(result)
    record["audio"] = base64.b64encode(result.audio).decode()
    return record


def turn_from_record(record: Stored) -> TurnResult:
    return TurnResult(**{**record, "audio": base64.b64decode(record["audio"])})


async def replay(result: TurnResult) -> AsyncGenerator[TurnEvent, None]:
    """A stored turn as the events of a live one, all at once: what was heard, the
    thinking and the reply whole, the audio as one delta, then TurnDone."""
    if result.transcript is not None:
        yield Transcribed(result.transcript)
    if result.thinking:
        yield ThinkingDelta(result.thinking)
    yield ReplyDelta(result.reply_text)
    yield AudioDelta(result.audio, result.reply_text, 0.0)
    yield TurnDone(result.with_audio(b""))
