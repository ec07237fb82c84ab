"""Request headers routes share: `Idempotency-Key` (turns, session creation)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header

MAX_KEY_CHARS = 255
REPLAYED = "Idempotent-Replayed"  # "true" on a response that is a stored result

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=MAX_KEY_CHARS,
        pattern=r"^[\x21-\x7e]+$",
        description="A key of the client's choosing (1 to 255 visible ASCII characters; a "
        "UUID is a good one) that makes the request safe to retry: the same key with the "
        "same request returns the stored result (header Idempotent-Replayed: true) instead "
        "of running again; sent while the first request still runs, it waits for it (as "
        "long as a turn may take, then 409) and gets its result; 422 with another "
        "request. Kept as long as the response cache.",
    ),
]
