"""Identifiers the server gives events, items and responses (`event_...`, `item_...`,
`resp_...`), as OpenAI's look: a prefix and random hex."""

from __future__ import annotations

import uuid


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"
