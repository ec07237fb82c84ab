"""Client events in, with the openai SDK's own pydantic types (they are the contract):
`parse_event` reads one WebSocket message into the SDK's GA event model, under the
beta names and shapes first when the client asked for them (`OpenAI-Beta:
realtime=v1`, converted in realtime/beta.py), and refuses what the types refuse plus
what they let through: the SDK's models accept unknown fields, so a field the type
does not declare is an `unknown_parameter` error here. Every refusal is an
`InvalidRequest` naming the field (`param`) and carrying the client's `event_id`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal, cast, get_args

from openai.types.beta.realtime import RealtimeClientEvent as BetaClientEvent
from openai.types.realtime import RealtimeClientEvent
from pydantic import BaseModel, ValidationError

from voice_worker.errors import InvalidRequest
from voice_worker.realtime import beta

Dialect = Literal["ga", "beta"]
BETA_HEADER = "realtime=v1"  # the value of OpenAI-Beta that asks for the beta protocol


def _by_type(union: Any) -> dict[str, type[BaseModel]]:
    members = get_args(get_args(union)[0])  # Annotated[Union[...], discriminator]
    return {get_args(m.model_fields["type"].annotation)[0]: m for m in members}


GA_EVENTS = _by_type(RealtimeClientEvent)
BETA_EVENTS = _by_type(BetaClientEvent)
#: events the SDK knows that this server does not do (it answers each with an error)
UNSUPPORTED = frozenset({"output_audio_buffer.clear"})


@dataclass(frozen=True)
class BadEvent(Exception):
    """A client event refused before it was understood."""

    error: InvalidRequest
    event_id: str | None


def parse_event(raw: str | bytes, dialect: Dialect) -> RealtimeClientEvent:
    """The GA SDK model of one client message; BadEvent when it is not one."""
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise BadEvent(
            InvalidRequest(f"the message is not valid JSON ({exc})", code="invalid_json"), None
        ) from None
    if not isinstance(data, dict):
        error = InvalidRequest("an event is a JSON object", code="invalid_json")
        raise BadEvent(error, None)
    event_id = data.get("event_id") if isinstance(data.get("event_id"), str) else None
    try:
        if dialect == "beta":
            data = beta.client_to_ga(
                validated(data, BETA_EVENTS, dialect).model_dump(exclude_unset=True)
            )
        return cast(RealtimeClientEvent, validated(data, GA_EVENTS, dialect))
    except InvalidRequest as exc:
        raise BadEvent(exc, event_id) from None


def validated(data: dict[str, Any], events: dict[str, type[BaseModel]], dialect: str) -> BaseModel:
    kind = data.get("type")
    model = events.get(kind) if isinstance(kind, str) else None
    if model is None:
        known = ", ".join(sorted(set(events) - UNSUPPORTED))
        raise InvalidRequest(
            f"unknown event type {kind!r} ({dialect} names: {known})",
            param="type",
            code="invalid_event_type",
        )
    if kind in UNSUPPORTED:
        raise unsupported(kind)
    try:
        event = model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc) from None
    unknown = unknown_fields(event)
    if unknown:
        raise InvalidRequest(
            f"unknown parameter {unknown[0]!r}", param=unknown[0], code="unknown_parameter"
        )
    return event


def unsupported(kind: str) -> InvalidRequest:
    """The refusal of an event the SDK knows and this server does not do."""
    return InvalidRequest(
        f"{kind} is not supported by this server", param="type", code="unsupported_event"
    )


def validation_error(exc: ValidationError) -> InvalidRequest:
    """The most telling of pydantic's errors: a union tries every member, and a member
    refused only for its `type` says nothing about what was wrong."""
    errors = exc.errors()

    def rank(error: Any) -> tuple[int, int]:
        loc = error["loc"]
        wrong_member = error["type"] == "literal_error" and loc and loc[-1] == "type"
        return (0 if wrong_member else 1, len(loc))

    best = max(errors, key=rank)
    param = field_path(best["loc"])
    message = f"{param}: {best['msg']}" if param else best["msg"]
    if rank(best)[0] == 0:  # no member had the type given: name every member's
        expected = [
            e["ctx"]["expected"]
            for e in errors
            if e["type"] == "literal_error" and field_path(e["loc"]) == param and "ctx" in e
        ]
        if expected:
            message = f"{param}: input should be {' or '.join(dict.fromkeys(expected))}"
    return InvalidRequest(message, param=param or None, code="invalid_value")


def field_path(loc: tuple[Any, ...]) -> str:
    """`session.audio.input.turn_detection.threshold` from pydantic's location (the
    names of union members, capitalized or tagged, left out)."""
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        elif part[:1].isupper() or "[" in part or "-" in part:
            continue
        else:
            parts.append(("." if parts else "") + part)
    return "".join(parts)


def unknown_fields(model: BaseModel, path: str = "") -> list[str]:
    """Fields a model received that its type does not declare, as dotted paths."""
    found = [f"{path}{name}" for name in model.model_extra or {}]
    for name in type(model).model_fields:
        found += _unknown_in(getattr(model, name), f"{path}{name}")
    return found


def _unknown_in(value: Any, path: str) -> list[str]:
    if isinstance(value, BaseModel):
        return unknown_fields(value, path + ".")
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _unknown_in(v, f"{path}[{i}]")]
    return []  # free-form objects (metadata, tool parameters) hold anything
