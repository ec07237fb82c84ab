"""The Wyoming transport's one error table: a domain error (voice_worker/errors.py)
becomes an `error` event, `{"text", "code"}`: the text is the error's message, the
code its own (`audio_too_long`, `string_above_max_length`, ...) or else its row's.
Protocol mistakes (audio without `audio-start`, an unknown event) are raised as
`InvalidRequest` with their own code and take the same path. The connection goes on
after an error event; other connections never notice."""

from __future__ import annotations

import logging

from wyoming.error import Error
from wyoming.event import Event

from voice_worker.errors import (
    Busy,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    UpstreamFailed,
    UpstreamTimeout,
    UpstreamUnavailable,
    VoiceError,
)

log = logging.getLogger(__name__)

#: the table: the most specific class of an error picks its row (code, the server's fault)
ERROR_CODES: dict[type[VoiceError], tuple[str, bool]] = {
    InvalidRequest: ("invalid_request", False),
    PayloadTooLarge: ("too_large", False),
    NotFound: ("not_found", False),
    Busy: ("busy", True),
    UpstreamFailed: ("upstream_failed", True),
    UpstreamUnavailable: ("upstream_unavailable", True),
    UpstreamTimeout: ("upstream_timeout", True),
}
_FALLBACK = ("internal_error", True)
INTERNAL_ERROR = "internal_error"


def _row(error: VoiceError) -> tuple[str, bool]:
    for kind in type(error).__mro__:
        row = ERROR_CODES.get(kind)
        if row is not None:
            return row
    return _FALLBACK


def error_event(error: VoiceError) -> Event:
    """The `error` event of a domain error (logged: a warning when it is ours)."""
    code, ours = _row(error)
    code = error.code or code
    log.log(
        logging.WARNING if ours else logging.INFO,
        "wyoming request failed",
        extra={"code": code, "error": error.message},
    )
    return Error(text=error.message, code=code).event()


def internal_error_event(connection: str) -> Event:
    """What a client hears of an unexpected failure (the log has the rest)."""
    return Error(
        text=f"internal error in the voice engine (connection {connection})", code=INTERNAL_ERROR
    ).event()
