"""OpenAI's audio API, strictly: `POST /v1/audio/speech` (JSON) and
`POST /v1/audio/transcriptions` (multipart), Bearer auth, errors in
`{"error": {"message", "type", "param", "code"}}`, 429 with Retry-After."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from shared.audio.formats import MIME_TYPES, AudioFormat
from tests.worker.fakes.common import Behavior, audio_bytes

VOICES = {
    "alloy",
    "ash",
    "ballad",
    "coral",
    "echo",
    "fable",
    "onyx",
    "nova",
    "sage",
    "shimmer",
    "verse",
    "marin",
    "cedar",
}
TTS_MODELS = {"tts-1", "tts-1-hd", "gpt-4o-mini-tts"}
SPEECH_FIELDS = {
    "input",
    "model",
    "voice",
    "instructions",
    "response_format",
    "speed",
    "stream_format",
}
EXTENSIONS = {"flac", "mp3", "mp4", "mpeg", "mpga", "m4a", "ogg", "wav", "webm"}
TRANSCRIBE_FIELDS = {
    "file",
    "model",
    "language",
    "prompt",
    "temperature",
    "response_format",
    "timestamp_granularities[]",
    "stream",
}
RATELIMIT = {
    "x-ratelimit-limit-requests": "60",
    "x-ratelimit-remaining-requests": "0",
    "x-ratelimit-reset-requests": "2s",
}


def error(
    status: int,
    message: str,
    type_: str,
    param: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


def invalid(message: str, param: str | None = None) -> JSONResponse:
    return error(400, message, "invalid_request_error", param)


async def gate(request: Request, behavior: Behavior) -> JSONResponse | None:
    """Auth first, then the failure mode the test asked for."""
    behavior.calls.append({"path": request.url.path})
    if request.headers.get("authorization") != f"Bearer {behavior.api_key}":
        return error(
            401, "Incorrect API key provided.", "invalid_request_error", code="invalid_api_key"
        )
    if behavior.mode == "429":
        return error(
            429,
            "Rate limit reached for requests",
            "requests",
            code="rate_limit_exceeded",
            headers={"retry-after": "2", **RATELIMIT},
        )
    if behavior.mode == "500":
        return error(500, "The server had an error while processing your request.", "server_error")
    if behavior.mode == "503":
        return error(
            503, "The engine is currently overloaded, please try again later", "server_error"
        )
    if behavior.mode == "timeout":
        await behavior.stall()
    return None


def create_app(behavior: Behavior) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/audio/speech")
    async def speech(request: Request) -> Response:
        if (failure := await gate(request, behavior)) is not None:
            return failure
        if not request.headers.get("content-type", "").startswith("application/json"):
            return invalid("Content-Type must be application/json")
        try:
            body: dict[str, Any] = json.loads(await request.body())
        except ValueError:
            return invalid("We could not parse the JSON body of your request.")
        if unknown := set(body) - SPEECH_FIELDS:
            return invalid(f"Unrecognized request argument supplied: {sorted(unknown)[0]}")
        for name in ("input", "model", "voice"):
            if not body.get(name):
                return invalid(f"Missing required parameter: '{name}'.", name)
        if len(body["input"]) > 4096:
            return invalid("input is longer than 4096 characters", "input")
        if body["model"] not in TTS_MODELS:
            return error(
                404,
                f"The model `{body['model']}` does not exist.",
                "invalid_request_error",
                "model",
                "model_not_found",
            )
        if body["voice"] not in VOICES:
            return invalid(f"Invalid value for 'voice': {body['voice']!r}.", "voice")
        if body.get("instructions") and body["model"].startswith("tts-1"):
            return invalid("instructions are not supported by tts-1 models", "instructions")
        fmt = body.get("response_format", "mp3")
        if fmt not in {"mp3", "opus", "aac", "flac", "wav", "pcm"}:
            return invalid(f"Invalid value for 'response_format': {fmt!r}.", "response_format")
        if not 0.25 <= float(body.get("speed", 1.0)) <= 4.0:
            return invalid("speed must be between 0.25 and 4.0", "speed")
        audio_format = AudioFormat(fmt)
        return Response(audio_bytes(audio_format, 24_000), media_type=MIME_TYPES[audio_format])

    @app.post("/v1/audio/transcriptions")
    async def transcriptions(request: Request) -> Response:
        if (failure := await gate(request, behavior)) is not None:
            return failure
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            return invalid("Content-Type must be multipart/form-data")
        form = await request.form()
        if unknown := set(form.keys()) - TRANSCRIBE_FIELDS:
            return invalid(f"Unrecognized request argument supplied: {sorted(unknown)[0]}")
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            return invalid("Missing required parameter: 'file'.", "file")
        if not form.get("model"):
            return invalid("Missing required parameter: 'model'.", "model")
        extension = (upload.filename or "").rpartition(".")[2].lower()
        if extension not in EXTENSIONS:
            return invalid(f"Invalid file format. Supported formats: {sorted(EXTENSIONS)}", "file")
        data = await upload.read()
        if len(data) > 25 * 2**20:
            return error(413, "Maximum content size limit exceeded.", "invalid_request_error")
        fmt = form.get("response_format", "json")
        granularities = form.getlist("timestamp_granularities[]")
        if granularities and fmt != "verbose_json":
            return invalid(
                "timestamp_granularities requires verbose_json", "timestamp_granularities"
            )
        text = behavior.transcript
        if fmt == "text":
            return Response(text + "\n", media_type="text/plain")
        if fmt != "verbose_json":
            return JSONResponse({"text": text})
        words = [
            {"word": w, "start": i * 0.5, "end": i * 0.5 + 0.4} for i, w in enumerate(text.split())
        ]
        segment = {
            "id": 0,
            "seek": 0,
            "start": 0.0,
            "end": 5.0,
            "text": text,
            "tokens": [1, 2],
            "temperature": 0.0,
            "avg_logprob": -0.2,
            "compression_ratio": 1.1,
            "no_speech_prob": 0.01,
        }
        body = {
            "task": "transcribe",
            "language": "english",
            "duration": 5.0,
            "text": text,
            "segments": [segment],
        }
        if "word" in granularities:
            body["words"] = words
        return JSONResponse(body)

    return app
