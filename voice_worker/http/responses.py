"""What routes declare they answer, for the OpenAPI document: every error status in
OpenAI's error shape (`errors(...)`, with `Retry-After` on 409, 429 and 503), the audio
content types (`AUDIO`), the Server-Sent Events of a speech stream and of a streamed
turn, and the methods a path allows (`allowed_methods`, for a 405's Allow). A leaf: it
knows no feature; the app-level patch of the document is voice_worker/openapi.py."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, Field

from shared.audio.formats import MIME_TYPES


class ErrorDetail(BaseModel):
    message: str = Field(description="What went wrong, for a person.")
    type: str = Field(description="OpenAI's error type (invalid_request_error, ...).")
    param: str | None = Field(None, description="The request field at fault.")
    code: str | None = Field(None, description="Why, for a program (file_too_large, ...).")


class ErrorBody(BaseModel):
    """Every error, in OpenAI's shape."""

    error: ErrorDetail


WHY = {
    400: "The request is invalid (the error names the parameter).",
    401: "No credentials, or ones this worker does not accept (see WWW-Authenticate).",
    404: "No such session (or, for a repeated creation, it was deleted since).",
    409: "The session is answering another turn, or a request with this Idempotency-Key "
    "is still running past a turn's deadline; retry after Retry-After.",
    413: "The upload is larger than this worker accepts.",
    422: "This Idempotency-Key was used with a different request.",
    429: "The caller's budget (requests, audio seconds, characters) is spent; retry after "
    "Retry-After.",
    502: "An upstream (model server, chat model, cloud API) failed.",
    503: "Busy, or an upstream or the session store is unavailable; retry after Retry-After.",
    504: "An upstream did not answer in time.",
}
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    }
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entries of the error statuses a route can answer."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        out[status] = {"model": ErrorBody, "description": WHY[status]}
        if status in (409, 429, 503):
            out[status]["headers"] = RETRY_AFTER
    return out


BINARY = {"schema": {"type": "string", "format": "binary"}}
AUDIO_TYPES = sorted(set(MIME_TYPES.values()))
AUDIO: dict[str, Any] = {mime: BINARY for mime in AUDIO_TYPES}


def _event(kind: str, required: dict[str, Any], optional: dict[str, Any] | None = None) -> Any:
    properties = {"type": {"const": kind}, **required, **(optional or {})}
    return {"type": "object", "required": ["type", *required], "properties": properties}


def sse(*events: Any) -> dict[str, Any]:
    """Server-Sent Events whose `data` is JSON, one of `events` (before OpenAPI 3.2,
    a `text/event-stream` schema describes one event: its fields)."""
    data: dict[str, Any] = {"type": "string", "contentMediaType": "application/json"}
    data["contentSchema"] = {"oneOf": list(events)}
    fields = {"data": data, "event": {"type": "string"}}
    return {
        "text/event-stream": {
            "schema": {"type": "object", "required": ["data"], "properties": fields}
        }
    }


TEXT_FIELD = {"text": {"type": "string"}}
B64 = {"type": "string", "contentEncoding": "base64"}
ERROR_EVENT = _event("error", {"error": ErrorDetail.model_json_schema()})
#: /v1/audio/speech with stream_format=sse (OpenAI's)
SPEECH_EVENTS = sse(
    _event("speech.audio.delta", {"audio": B64}),
    _event("speech.audio.done", {"usage": {"type": "object"}}),
)
#: a streamed turn (conversation.sse)
TURN_EVENTS = sse(
    _event("transcript", TEXT_FIELD),
    _event("reply.delta", TEXT_FIELD),
    _event("thinking.delta", TEXT_FIELD),
    _event("audio.delta", {"audio": B64}, {**TEXT_FIELD, "text_start": {"type": "number"}}),
    _event(
        "done",
        {
            "session_id": {"type": "string"},
            "user_message_id": {"type": "integer"},
            "assistant_message_id": {"type": "integer"},
            "reply_text": {"type": "string"},
            "audio_format": {"type": "string"},
            "timings": {"type": "object"},
        },
    ),
    ERROR_EVENT,
)
TEXT: dict[str, Any] = {"text/plain": {"schema": {"type": "string"}}}


def allowed_methods(document: dict[str, Any], path: str) -> list[str]:
    """Every method the document lists for `path` (for a 405's Allow)."""
    methods: set[str] = set()
    for template, operations in document.get("paths", {}).items():
        if re.fullmatch(re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template)), path):
            methods |= {method.upper() for method in operations if method != "parameters"}
    return sorted(methods)
