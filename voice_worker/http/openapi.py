"""The worker's OpenAPI document, exact: what client generators and API gateways read.

Routes declare every status they can answer (`errors(...)`: OpenAI's error shape,
`Retry-After` on 409 and 503) and their content types (`AUDIO`: the audio formats;
Server-Sent Events). What the models cannot say statically is patched in here, from
the settings and the speech catalogue at the time the document is asked for: the
analyst roles, the text lengths, the voices, models and languages the worker accepts
(catalog.choices), the multipart parts that must be audio, and that
`timestamp_granularities[]` needs `response_format=verbose_json`. A 405 lists every
method of its path in `Allow` (`allowed_methods`)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

from shared.audio.formats import MIME_TYPES
from shared.speakable import PLAIN_PATTERN, SPEAKABLE_FORMAT
from voice_worker.auth.middleware import is_open
from voice_worker.catalog.choices import SpeechChoices
from voice_worker.settings import Settings


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
    "is still running; retry after Retry-After.",
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


def install(app: FastAPI, settings: Settings) -> None:
    """Serve the exact document at /openapi.json (rebuilt when the catalogue changes)."""
    built: dict[str, Any] = {}

    def document() -> dict[str, Any]:
        choices: SpeechChoices | None = getattr(getattr(app.state, "speech", None), "choices", None)
        if built.get("choices") is not choices or "schema" not in built:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            patch(schema, settings, choices)
            built.update(schema=schema, choices=choices)
        result: dict[str, Any] = built["schema"]
        return result

    app.openapi = document  # type: ignore[method-assign]


def patch(schema: dict[str, Any], settings: Settings, choices: SpeechChoices | None) -> None:
    components: dict[str, Any] = schema["components"]["schemas"]

    def prop(model: str, name: str) -> dict[str, Any]:
        """A property's schema; of an optional one, its non-null branch."""
        found: dict[str, Any] = components[model]["properties"][name]
        for branch in found.get("anyOf", ()):
            if branch.get("type") != "null":
                return branch  # type: ignore[no-any-return]
        return found

    def each(targets: Iterable[tuple[str, str]], change: Callable[[dict[str, Any]], None]) -> None:
        for model, name in targets:
            if model in components and name in components[model]["properties"]:
                change(prop(model, name))

    roles = ["", *sorted(settings.chat.roles)]
    targets = [("SessionSettings", "analyst_role"), ("SettingsPatch", "analyst_role")]
    each(targets, lambda p: p.update(enum=roles))
    each([("TextTurn", "text")], lambda p: p.update(maxLength=settings.chat.max_input_chars))
    lifetime = settings.auth.client_secret_seconds
    each([("ExpiresAfter", "seconds")], lambda p: p.update(maximum=lifetime))
    speakable = {"maxLength": settings.tts.max_input_chars, "format": SPEAKABLE_FORMAT}
    speakable["pattern"] = PLAIN_PATTERN
    each([("OpenAISpeechRequest", "input"), ("TTSRequest", "text")], lambda p: p.update(speakable))
    if choices is not None:
        _catalogue(each, choices)
    _uploads(schema)
    _guarded(schema, settings)


def _guarded(schema: dict[str, Any], settings: Settings) -> None:
    """401 and 429 on every path but the open ones, when auth and rate limits are on."""
    statuses = []
    if settings.auth.mode != "none":
        statuses.append(401)
        schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
        schemes["bearer"] = {"type": "http", "scheme": "bearer"}
        schemes["apiKey"] = {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    if settings.rate_limit.active(settings.auth.mode):
        statuses.append(429)
    for path, operations in schema["paths"].items():
        if is_open(path):
            continue
        for method, operation in operations.items():
            if method == "parameters":
                continue
            operation["responses"].update({str(k): v for k, v in _documented(statuses).items()})
            if 401 in statuses:
                operation["security"] = [{"bearer": []}, {"apiKey": []}]


def _documented(statuses: list[int]) -> dict[int | str, dict[str, Any]]:
    entries = errors(*statuses)
    for entry in entries.values():
        entry["content"] = {
            "application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}
        }
        entry.pop("model")
    return entries


def _catalogue(each: Any, choices: SpeechChoices) -> None:
    voices, models = list(choices.voices), list(choices.models)
    each(
        [
            ("OpenAISpeechRequest", "voice"),
            ("VoiceRef", "id"),
            ("TTSRequest", "voice"),
            ("SessionSettings", "voice"),
            ("SettingsPatch", "voice"),
        ],
        lambda p: p.update(enum=voices),
    )
    each(
        [
            ("OpenAISpeechRequest", "model"),
            ("TTSRequest", "model"),
            ("SessionSettings", "tts_model"),
            ("SettingsPatch", "tts_model"),
        ],
        lambda p: p.update(enum=models),
    )
    each([("TTSRequest", "language")], lambda p: p.update(enum=list(choices.languages)))
    if not choices.instructions:
        each([("OpenAISpeechRequest", "instructions")], lambda p: p.update(maxLength=0))


#: multipart uploads: route path -> the part that must be audio
UPLOADS = {
    "/v1/audio/transcriptions": "file",
    "/api/voice/stt": "file",
    "/api/voice/sessions/{session_id}/messages": "audio",
}


def _uploads(schema: dict[str, Any]) -> None:
    components = schema["components"]["schemas"]
    for path, part in UPLOADS.items():
        body = schema["paths"][path]["post"]["requestBody"]["content"]["multipart/form-data"]
        body["encoding"] = {part: {"contentType": "audio/*"}}
        name = body["schema"]["$ref"].rsplit("/", 1)[1]
        if path == "/v1/audio/transcriptions":
            # word or segment timestamps come only with verbose_json
            components[name]["if"] = {
                "required": ["timestamp_granularities[]"],
                "properties": {"timestamp_granularities[]": {"minItems": 1}},
            }
            components[name]["then"] = {
                "properties": {"response_format": {"const": "verbose_json"}},
                "required": ["response_format"],
            }
