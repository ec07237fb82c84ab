"""Idempotency settings (VOICE_IDEMPOTENCY__*), nested in the worker's Settings."""

from __future__ import annotations

from pydantic import BaseModel, Field


class IdempotencySettings(BaseModel):
    """Idempotency-Key on turns and session creation (VOICE_IDEMPOTENCY__*). Keys are
    kept in the session store for VOICE_RESPONSE_CACHE__TTL_SECONDS."""

    lease_seconds: float = Field(
        10.0,
        gt=0,
        description="A running request renews its key this often x3; a worker that dies "
        "holds it this long before a retry may take it over.",
    )
