"""Opaque pagination cursors (keyset, so a page never repeats or skips a row)."""

from __future__ import annotations

import base64


def encode_session_cursor(created_at: float, session_id: str) -> str:
    return base64.urlsafe_b64encode(f"{created_at!r}|{session_id}".encode()).decode()


def decode_session_cursor(cursor: str) -> tuple[float, str]:
    try:
        created, session_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return float(created), session_id
    except (ValueError, UnicodeDecodeError):
        raise ValueError(f"invalid cursor {cursor!r}") from None
