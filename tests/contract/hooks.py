"""Schemathesis hooks (SCHEMATHESIS_HOOKS=tests.contract.hooks): what the worker's
OpenAPI document says in words that a fuzzer needs as data. A multipart part of type
`audio/*` gets real audio (a short tone, encoded in each format the worker reads), and
a string of format `speakable-text` is plain text with a letter or a digit in it, and
an SDP offer (`application/sdp`, format `sdp-offer`) is a WebRTC client's real offer
(aiortc's: audio and the data channel), which the worker answers."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
from typing import Any

import jsonschema
import numpy as np
import schemathesis
from hypothesis import strategies as st

from shared.audio.encoding import encode
from shared.audio.formats import AudioFormat
from shared.speakable import SPEAKABLE_FORMAT

RATE = 16_000


def _tone(seconds: float, fmt: AudioFormat) -> bytes:
    t = np.arange(int(RATE * seconds), dtype=np.float32) / RATE
    return encode((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), RATE, fmt)


SAMPLES: list[bytes] = []
for media_type, fmt in (
    ("audio/wav", AudioFormat.WAV),
    ("audio/flac", AudioFormat.FLAC),
    ("audio/mpeg", AudioFormat.MP3),
):
    samples = [_tone(seconds, fmt) for seconds in (0.5, 1.2)]
    SAMPLES += samples
    schemathesis.openapi.media_type(media_type, st.sampled_from(samples))

_plain = st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=20)
_said = st.characters(categories=("L", "N"))
schemathesis.openapi.format(
    SPEAKABLE_FORMAT, st.tuples(_plain, _said, _plain).map(lambda parts: "".join(parts))
)


async def _offer() -> str:
    from aiortc import RTCConfiguration, RTCPeerConnection
    from aiortc.mediastreams import AudioStreamTrack

    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.createDataChannel("oai-events")
    pc.addTrack(AudioStreamTrack())
    await pc.setLocalDescription(await pc.createOffer())
    sdp: str = pc.localDescription.sdp
    await pc.close()
    return sdp


_offers = [asyncio.run(_offer()) for _ in range(2)]
schemathesis.openapi.media_type("application/sdp", st.sampled_from([o.encode() for o in _offers]))
schemathesis.openapi.format("sdp-offer", st.sampled_from(_offers))


# Idempotency-Key: a client makes a fresh key per request (the header's description
# says so); the fuzzer reuses short values ("0") across bodies, which the worker rightly
# answers 422 (documented; tests/conversation test it). A key that is valid stays valid
# and becomes fresh; an invalid one (a negative case) is left as it is.
_KEY = re.compile(r"[\x21-\x7e]{1,255}")
_fresh = itertools.count()


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    headers = case.headers or {}
    key = headers.get("Idempotency-Key")
    if isinstance(key, str) and _KEY.fullmatch(key):
        headers["Idempotency-Key"] = f"{key[:200]}.{os.getpid()}.{next(_fresh)}"
    _audio_parts(case)


def _audio_parts(case: Any) -> None:
    """A valid case's `audio/*` part is audio: the coverage phase writes the part's
    bounds (one byte for `minLength: 1`) without the media type's strategy."""
    meta = case.meta
    multipart = (case.media_type or "").startswith("multipart/")
    if meta is None or not meta.generation.mode.is_positive or not multipart:
        return
    if not isinstance(case.body, dict):
        return
    operation = case.operation
    document = operation.schema.raw_schema
    body = document["paths"][operation.path][operation.method.lower()]["requestBody"]
    encoding = body["content"]["multipart/form-data"].get("encoding", {})
    for part, how in encoding.items():
        value = case.body.get(part)
        data = getattr(value, "data", value)
        audio = how.get("contentType", "").startswith("audio/")
        if audio and isinstance(data, (bytes, bytearray, str)) and data not in SAMPLES:
            case.body[part] = SAMPLES[0]


def _wire_text(value: Any) -> str:
    """What a multipart text part is sent as: a string itself, else its JSON spelling."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return json.dumps(value)


_BOOLEAN_TEXT = {
    **dict.fromkeys(("1", "on", "t", "true", "y", "yes"), True),
    **dict.fromkeys(("0", "off", "f", "false", "n", "no"), False),
}


def _takes_text(schema: dict[str, Any]) -> bool:
    return any(b.get("type") == "string" for b in schema.get("anyOf", [schema]))


def _as_sent(value: Any, schema: dict[str, Any]) -> Any:
    """A part's value as the worker reads it: text for a string part; for another, the
    JSON the text spells (`true`, `1.5`), else the text."""
    data = getattr(value, "data", value)  # Schemathesis' Binary holds its bytes
    if isinstance(data, (bytes, bytearray)):
        return "x" * len(data)  # a file: only its length is checked
    text = _wire_text(value)
    if _takes_text(schema):
        return text
    if schema.get("type") == "boolean" and text.lower() in _BOOLEAN_TEXT:
        return _BOOLEAN_TEXT[text.lower()]  # pydantic's reading of a form's boolean
    try:
        return json.loads(text)
    except ValueError:
        return text


# A multipart part is text on the wire: a "negative" case that makes a string part a
# boolean, a number or null sends "true", "1" or "null", which is a valid string (and
# "true" for a boolean part is the boolean; a list, the part sent once per item, of
# which FastAPI reads the last; an empty optional part, not given). Such a case is not
# negative as sent; its ST201 is dropped only when the body as sent is valid against
# the document (Schemathesis does the like for form-urlencoded bodies).
@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    multipart = (case.media_type or "").startswith("multipart/")
    in_body = "in body" in str(getattr(failure, "message", ""))
    if getattr(failure, "code", "") != "ST201" or not multipart or not in_body:
        return True
    if not isinstance(case.body, dict):
        return True
    operation = case.operation
    document = operation.schema.raw_schema
    content = document["paths"][operation.path][operation.method.lower()]["requestBody"]
    schema = content["content"]["multipart/form-data"]["schema"]
    name = schema["$ref"].rsplit("/", 1)[1]
    properties = document["components"]["schemas"][name].get("properties", {})
    required = document["components"]["schemas"][name].get("required", [])
    sent: dict[str, Any] = {}
    for part, value in case.body.items():
        declared = properties.get(part, {})
        if value == "" and part not in required:
            continue  # FastAPI reads an empty optional form field as not given
        if isinstance(value, list) and declared.get("type") != "array":
            if not value:
                continue  # no part is sent
            value = value[-1]  # a part sent several times: FastAPI reads the last
        if isinstance(value, list):
            items = declared.get("items", {})
            sent[part] = [_as_sent(v, items) for v in value]
        else:
            sent[part] = _as_sent(value, declared)
    validator = jsonschema.Draft202012Validator({**schema, "components": document["components"]})
    return not validator.is_valid(sent)  # valid as sent: not a negative case
