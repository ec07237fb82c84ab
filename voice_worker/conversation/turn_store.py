"""Storing a turn: its two messages in one transaction (with the Idempotency-Key's
result and under the turn's lease, when it has them), the store's refusals as the
worker's domain errors. A turn is stored only once its reply is complete and spoken
(`store_reply`), so a failure anywhere leaves no half turn; a reply the user
interrupted is stored as far as it was heard (`store_interrupted`, then
`truncate_reply` once the player says where it stopped), so the history the model
reads next is what the user heard. `turn_result` is what a stored turn returns."""

from __future__ import annotations

from shared.logs import Stopwatch
from voice_worker.conversation.adapters import audio_info
from voice_worker.conversation.functions import said_before, stored_calls
from voice_worker.conversation.replay import turn_record
from voice_worker.conversation.reply import Reply
from voice_worker.conversation.turn import Turn, TurnResult
from voice_worker.errors import Conflict, InProgress, NotFound
from voice_worker.store.base import (
    ChatStore,
    KeyLost,
    KeyReceipt,
    MessageRecord,
    NewMessage,
    TurnLeaseLost,
)

Rows = tuple[MessageRecord, MessageRecord]  # the user's message, the assistant's


async def store_turn(
    store: ChatStore,
    session_id: str,
    user: NewMessage,
    assistant: NewMessage,
    receipt: KeyReceipt | None = None,
    lease: str | None = None,
) -> Rows:
    try:
        return await store.add_turn(session_id, user, assistant, receipt, lease)
    except LookupError:
        raise NotFound(f"session {session_id!r} was deleted during the turn") from None
    except TurnLeaseLost:
        raise Conflict(
            f"the turn of session {session_id!r} took longer than its lease and another "
            "turn took over; it was not stored",
            code="turn_lease_lost",
        ) from None
    except KeyLost:
        raise InProgress(
            "this turn's Idempotency-Key was taken over by a retry; not stored",
            param="Idempotency-Key",
            code="idempotency_key_in_use",
            retry_after=1,
        ) from None


def turn_result(
    turn: Turn,
    reply: Reply,
    sample_rate: int,
    seconds: float,
    *,
    audio: bytes = b"",
    rows: Rows | None = None,
) -> TurnResult:
    """What `turn` returns (`rows`: its stored messages, once there are)."""
    return TurnResult(
        session_id=turn.session.id,
        transcript=turn.user.transcript,
        reply_text=reply.text,
        thinking=reply.thinking,
        audio=audio,
        audio_format=reply.options.format.value,
        sample_rate=sample_rate,
        audio_duration=seconds,
        timings=turn.timings,
        user_message_id=rows[0].id if rows else 0,
        assistant_message_id=rows[1].id if rows else 0,
        cached=reply.cached,
        usage=reply.end.usage,
    )


async def store_reply(
    store: ChatStore, turn: Turn, reply: Reply, lease: str | None = None
) -> TurnResult:
    """Store `turn` with its whole `reply` (under the turn's `lease`); its result, the
    audio left out (it went out as it was spoken)."""
    timings = turn.timings
    rate, seconds = await audio_info(bytes(reply.audio), reply.options)
    stage = Stopwatch()
    assistant = NewMessage(
        "assistant",
        said_before(turn, reply.text),  # with what it said before a client's function
        thinking=reply.thinking,
        audio_format=reply.options.format.value,
        audio_duration=seconds,
        timings=timings,
        tool_calls=[*stored_calls(turn.continued), *reply.tools.stored()],
    )
    receipt = None
    if turn.held is not None:  # the key done with the turn, in its transaction
        whole = turn_result(turn, reply, rate, seconds, audio=bytes(reply.audio))
        receipt = turn.held.receipt(turn_record(whole))
    rows = await store_turn(store, turn.session.id, turn.user, assistant, receipt, lease)
    timings["store"] = stage.seconds
    timings["total"] = turn.watch.seconds
    return turn_result(turn, reply, rate, seconds, rows=rows)


async def store_interrupted(
    store: ChatStore, turn: Turn, heard: str, audio_seconds: float
) -> Rows | None:
    """Store `turn` with the reply as far as it was `heard` (its run was closed
    part-way, which stores nothing); nothing when none of it was heard."""
    heard = heard.strip()
    if not heard:
        return None
    assistant = NewMessage(
        "assistant",
        said_before(turn, heard),
        audio_format=turn.speech().format.value,
        audio_duration=audio_seconds,
        timings={**turn.timings, "interrupted": 1.0},
        tool_calls=stored_calls(turn.continued),
    )
    return await store_turn(store, turn.session.id, turn.user, assistant)


async def truncate_reply(
    store: ChatStore, session_id: str, message_id: int, heard: str, audio_seconds: float
) -> None:
    """The stored reply `message_id` cut to what was heard (a player stopped it)."""
    if not await store.update_reply(session_id, message_id, heard.strip(), audio_seconds):
        raise NotFound(f"no reply {message_id} in session {session_id!r}", param="item_id")
