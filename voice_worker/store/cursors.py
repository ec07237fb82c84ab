"""Pagination cursors (keyset, so a page never repeats or skips a row). Clients treat
them as opaque; they are plain so that their pattern is exact: any string matching
it is a position in the list (the OpenAPI document states both patterns)."""

from __future__ import annotations

import re

#: a session cursor: the creation time of the last session of a page, and its id
SESSION_CURSOR_PATTERN = r"^[0-9]{1,12}(\.[0-9]{1,20})?_[0-9a-f]{32}$"
#: a message cursor: the id of the last message of a page
MESSAGE_CURSOR_PATTERN = r"^[0-9]{1,18}$"


def encode_session_cursor(created_at: float, session_id: str) -> str:
    return f"{created_at!r}_{session_id}"  # repr: the exact float, read back the same


def decode_session_cursor(cursor: str) -> tuple[float, str]:
    if not re.match(SESSION_CURSOR_PATTERN, cursor):
        raise ValueError(f"invalid cursor {cursor!r}")
    created, session_id = cursor.split("_", 1)
    return float(created), session_id
