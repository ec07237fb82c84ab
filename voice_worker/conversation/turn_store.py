"""Storing a turn: its two messages in one transaction (with the Idempotency-Key's
result and under the turn's lease, when it has them), the store's refusals as the
worker's domain errors."""

from __future__ import annotations

from voice_worker.errors import Conflict, InProgress, NotFound
from voice_worker.store.base import (
    ChatStore,
    KeyLost,
    KeyReceipt,
    MessageRecord,
    NewMessage,
    TurnLeaseLost,
)


async def store_turn(
    store: ChatStore,
    session_id: str,
    user: NewMessage,
    assistant: NewMessage,
    receipt: KeyReceipt | None = None,
    lease: str | None = None,
) -> tuple[MessageRecord, MessageRecord]:
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
