"""The realtime transport's one error table: a domain error (voice_worker/errors.py)
becomes an `error` event in OpenAI's shape, `{"type": "error", "event_id", "error":
{"type", "code", "message", "param", "event_id"}}`, where `error.event_id` is the
client event that caused it. Protocol mistakes (not JSON, an unknown event type, a
field that does not validate) are raised as `InvalidRequest` with their own code and
take the same path. After an error event the connection goes on; an unexpected
failure is logged and told as `server_error` naming the connection."""

from __future__ import annotations

import logging

from openai.types.realtime import RealtimeErrorEvent
from openai.types.realtime.realtime_error import RealtimeError

from voice_worker.errors import (
    Busy,
    Conflict,
    InProgress,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    UpstreamFailed,
    UpstreamTimeout,
    UpstreamUnavailable,
    VoiceError,
)
from voice_worker.realtime.ids import new_id

log = logging.getLogger(__name__)

#: the table: the most specific class of an error picks its row (error type, our fault)
ERROR_TYPES: dict[type[VoiceError], tuple[str, bool]] = {
    InvalidRequest: ("invalid_request_error", False),
    PayloadTooLarge: ("invalid_request_error", False),
    NotFound: ("invalid_request_error", False),
    Conflict: ("invalid_request_error", False),
    InProgress: ("invalid_request_error", False),
    RateLimited: ("rate_limit_error", False),  # code rate_limit_exceeded; the turn waits
    Busy: ("server_error", True),
    UpstreamFailed: ("server_error", True),
    UpstreamUnavailable: ("server_error", True),
    UpstreamTimeout: ("server_error", True),
}
_FALLBACK = ("server_error", True)


def _row(error: VoiceError) -> tuple[str, bool]:
    for kind in type(error).__mro__:
        row = ERROR_TYPES.get(kind)
        if row is not None:
            return row
    return _FALLBACK


def error_detail(error: VoiceError, client_event_id: str | None = None) -> RealtimeError:
    type_, ours = _row(error)
    log.log(
        logging.WARNING if ours else logging.INFO,
        "realtime request failed",
        extra={"code": error.code, "error": error.message, "client_event_id": client_event_id},
    )
    return RealtimeError(
        type=type_,
        code=error.code or type(error).__name__.lower(),
        message=error.message,
        param=error.param,
        event_id=client_event_id,
    )


def error_event(error: VoiceError, client_event_id: str | None = None) -> RealtimeErrorEvent:
    """The `error` event of a domain error."""
    return RealtimeErrorEvent(
        type="error", event_id=new_id("event"), error=error_detail(error, client_event_id)
    )


def internal_error_event(connection: str, client_event_id: str | None = None) -> RealtimeErrorEvent:
    """What a client hears of an unexpected failure (the log has the rest)."""
    error = RealtimeError(
        type="server_error",
        code="internal_error",
        message=f"internal error in the voice worker (connection {connection})",
        event_id=client_event_id,
    )
    return RealtimeErrorEvent(type="error", event_id=new_id("event"), error=error)
