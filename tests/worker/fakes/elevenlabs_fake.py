"""ElevenLabs text-to-speech, strictly: `POST /v1/text-to-speech/{voice_id}[/stream]
?output_format=...`, header `xi-api-key`, JSON `{"text", "model_id", ...}`; errors
`{"detail": {"status", "message"}}` (401, 429, 5xx) or `{"detail": [{"loc", "msg",
"type"}]}` (422)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from shared.audio.formats import AudioFormat
from tests.worker.fakes.common import Behavior, audio_bytes

FIELDS = {
    "text",
    "model_id",
    "language_code",
    "voice_settings",
    "seed",
    "previous_text",
    "next_text",
    "pronunciation_dictionary_locators",
    "previous_request_ids",
    "next_request_ids",
    "apply_text_normalization",
}
VOICE_SETTINGS = {"stability", "similarity_boost", "style", "use_speaker_boost", "speed"}
FORMATS = {
    f"mp3_{r}" for r in ("22050_32", "44100_32", "44100_64", "44100_96", "44100_128", "44100_192")
}
FORMATS |= {f"pcm_{r}" for r in (8000, 16000, 22050, 24000, 44100, 48000)}
FORMATS |= {
    "ulaw_8000",
    "alaw_8000",
    "opus_48000_32",
    "opus_48000_64",
    "opus_48000_96",
    "opus_48000_128",
    "opus_48000_192",
}


def detail(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"detail": {"status": code, "message": message}}
    return JSONResponse(body, status_code=status, headers=headers)


def unprocessable(loc: list[str], msg: str) -> JSONResponse:
    return JSONResponse(
        {"detail": [{"loc": loc, "msg": msg, "type": "value_error"}]}, status_code=422
    )


async def _cut(audio: bytes) -> AsyncIterator[bytes]:
    yield audio[: len(audio) // 2]
    await asyncio.sleep(0.05)
    raise ConnectionResetError("the fake drops the connection mid-stream")


def create_app(behavior: Behavior) -> FastAPI:
    app = FastAPI()

    async def tts(voice_id: str, request: Request) -> Response:
        behavior.calls.append({"voice_id": voice_id, "params": dict(request.query_params)})
        if request.headers.get("xi-api-key") != behavior.api_key:
            return detail(401, "invalid_api_key", "Invalid API key")
        if behavior.mode == "429":
            return detail(
                429,
                "too_many_concurrent_requests",
                "Too many concurrent requests",
                {"retry-after": "2"},
            )
        if behavior.mode == "500":
            return detail(500, "internal_error", "An internal error occurred")
        if behavior.mode == "503":
            return detail(503, "service_unavailable", "The service is temporarily unavailable")
        if behavior.mode == "timeout":
            await behavior.stall()
        output_format = request.query_params.get("output_format", "mp3_44100_128")
        if output_format not in FORMATS:
            return unprocessable(["query", "output_format"], "invalid output format")
        try:
            body: dict[str, Any] = json.loads(await request.body())
        except ValueError:
            return unprocessable(["body"], "invalid JSON")
        if unknown := set(body) - FIELDS:
            return unprocessable(["body", sorted(unknown)[0]], "extra fields not permitted")
        if not isinstance(body.get("text"), str) or not body["text"]:
            return unprocessable(["body", "text"], "field required")
        if unknown := set(body.get("voice_settings") or {}) - VOICE_SETTINGS:
            return unprocessable(["body", "voice_settings", sorted(unknown)[0]], "extra field")
        kind, _, rest = output_format.partition("_")
        if behavior.mode == "cut":  # audio starts, then the connection breaks
            return StreamingResponse(
                _cut(audio_bytes(AudioFormat.MP3, 44100)), media_type="audio/mpeg"
            )
        if kind == "pcm":
            return Response(audio_bytes(AudioFormat.PCM, int(rest)), media_type="audio/pcm")
        if kind == "mp3":
            rate = int(rest.split("_")[0])
            return Response(audio_bytes(AudioFormat.MP3, rate), media_type="audio/mpeg")
        return unprocessable(["query", "output_format"], "not supported by this fake")

    app.post("/v1/text-to-speech/{voice_id}")(tts)
    app.post("/v1/text-to-speech/{voice_id}/stream")(tts)
    return app
