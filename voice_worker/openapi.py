"""The worker's OpenAPI document, exact: what client generators and API gateways read.

Routes declare every status they can answer and their content types
(voice_worker/http/responses.py). What the models cannot say statically is patched in
here, from the settings and the speech catalogue at the time the document is asked for:
the analyst roles, the text lengths, the voices, models and languages the worker accepts
(catalog.choices), the multipart parts that must be audio, that
`timestamp_granularities[]` needs `response_format=verbose_json`, and 401/429 where auth
and rate limits are on."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from shared.speakable import PLAIN_PATTERN, SPEAKABLE_FORMAT
from voice_worker.auth.middleware import is_open
from voice_worker.catalog.choices import SpeechChoices
from voice_worker.http.responses import errors
from voice_worker.settings import Settings


def install(
    app: FastAPI, settings: Settings, choices_now: Callable[[], SpeechChoices | None]
) -> None:
    """Serve the exact document at /openapi.json, rebuilt when the catalogue changes
    (`choices_now`: the speech choices of the running worker; None before start-up or
    without a catalogue)."""
    built: dict[str, Any] = {}

    def document() -> dict[str, Any]:
        choices = choices_now()
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
