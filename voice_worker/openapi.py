"""The worker's OpenAPI document, exact: what client generators and API gateways read.

Routes declare every status they can answer and their content types
(voice_worker/http/responses.py). What the models cannot say statically is patched in
here, from the settings and the speech catalogue at the time the document is asked for:
the analyst roles, the text lengths, the voices, models and languages the worker accepts
(catalog.choices), the multipart parts that must be audio, that
`timestamp_granularities[]` needs `response_format=verbose_json`, and 401/429 where auth
and rate limits are on. Uploads may not be empty (`minLength: 1`); text to be spoken
carries its whole rule as a pattern (plain, with a letter or a digit of any script:
the letter and digit classes spelled out, so that every regex engine reads them as the
worker does); no route answers FastAPI's 422 validation error (the worker answers 400
in OpenAI's shape; 422 means a reused Idempotency-Key). The long operations (a
synthesis, a transcription, a turn) say how long they may take, from the worker's own
deadlines: `x-max-seconds` and a sentence of their description."""

from __future__ import annotations

import functools
import sys
import unicodedata
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
    each([("TextTurn", "text")], functools.partial(_turn_text, settings.chat.max_input_chars))
    lifetime = settings.auth.client_secret_seconds
    each([("ExpiresAfter", "seconds")], lambda p: p.update(maximum=lifetime))
    speakable = {"maxLength": settings.tts.max_input_chars, "format": SPEAKABLE_FORMAT}
    speakable["pattern"] = speakable_pattern()
    each([("OpenAISpeechRequest", "input"), ("TTSRequest", "text")], lambda p: p.update(speakable))
    if choices is not None:
        _catalogue(each, choices)
    _uploads(schema)
    _no_validation_422(schema)
    _long(schema, settings)
    _guarded(schema, settings)


@functools.cache
def speakable_pattern() -> str:
    """shared.speakable's rule as a pattern: no control character but tab, line feed,
    carriage return, and at least one letter or digit (Unicode categories L and N, as
    this Python's unicodedata has them: the ranges written out)."""
    ranges: list[str] = []
    start: int | None = None
    for code in range(sys.maxunicode + 2):
        said = code <= sys.maxunicode and unicodedata.category(chr(code))[0] in "LN"
        if said and start is None:
            start = code
        elif not said and start is not None:
            last = code - 1
            ranges.append(chr(start) if start == last else f"{chr(start)}-{chr(last)}")
            start = None
    plain = PLAIN_PATTERN.removeprefix("^").removesuffix("$")  # [^controls]*
    return f"^{plain}[{''.join(ranges)}]{plain}$"


def _long(schema: dict[str, Any], settings: Settings) -> None:
    """The operations that may take long, and how long at most: a synthesis (its
    deadline), a transcription (a cloud call's), a turn (the chat's and the speech's)."""
    speech, stt = settings.tts.timeout_seconds, settings.stt.timeout_seconds
    turn = settings.chat.timeout_seconds + speech
    long = {
        "/v1/audio/speech": speech,
        "/api/voice/tts": speech,
        "/v1/audio/transcriptions": stt,
        "/api/voice/stt": stt,
        "/api/voice/sessions/{session_id}/text": turn,
        "/api/voice/sessions/{session_id}/messages": turn + stt,
    }
    for path, seconds in long.items():
        operation = schema["paths"].get(path, {}).get("post")
        if operation is None:
            continue
        operation["x-max-seconds"] = seconds
        said = f"A long operation: it may take up to {seconds:g} s (the worker's deadlines)."
        description = operation.get("description", "").rstrip()
        operation["description"] = f"{description}\n\n{said}" if description else said


def _turn_text(most: int, prop: dict[str, Any]) -> None:
    prop["pattern"] = turn_text_pattern(most)
    prop.pop("maxLength", None)  # the white space around does not count


def turn_text_pattern(most: int) -> str:
    """A typed turn's rule (conversation.turn_begin.check_text) as a pattern: white space
    (str.isspace) around it is dropped; what is left is 1 to `most` characters, with
    no control character but tab, line feed, carriage return (so no maxLength: the white
    space around does not count)."""
    space = "".join(f"\\u{code:04X}" for code in range(0x10000) if chr(code).isspace())
    controls = PLAIN_PATTERN.removeprefix("^[^").removesuffix("]*$")
    edge = f"[^{space}{controls}]"
    core = edge if most < 2 else f"{edge}(?:[^{controls}]{{0,{most - 2}}}{edge})?"
    return f"^[{space}]*{core}[{space}]*$"


def _no_validation_422(schema: dict[str, Any]) -> None:
    """FastAPI lists a 422 (HTTPValidationError) on every route with parameters; this
    worker answers a request that does not validate with a 400 in OpenAI's shape."""
    for operations in schema["paths"].values():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            responses = operation["responses"]
            entry = responses.get("422", {})
            body = entry.get("content", {}).get("application/json", {}).get("schema", {})
            if body.get("$ref", "").endswith("/HTTPValidationError"):
                del responses["422"]
                responses.setdefault("400", _documented([400])[400])
    components = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)


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
        upload = components[name]["properties"][part]
        for branch in upload.get("anyOf", [upload]):
            if branch.get("type") == "string":
                branch["minLength"] = 1  # an empty file is refused (400)
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
