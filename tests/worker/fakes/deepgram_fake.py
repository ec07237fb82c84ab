"""Deepgram's pre-recorded API, strictly: `POST /v1/listen?model=...` with
`Authorization: Token <key>`, raw audio body; errors `{"err_code", "err_msg",
"request_id"}`."""

from __future__ import annotations

import time
import uuid

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tests.worker.fakes.common import Behavior

#: documented query parameters of /v1/listen that a pre-recorded call may carry
PARAMS = {
    "model",
    "smart_format",
    "punctuate",
    "language",
    "diarize",
    "utterances",
    "paragraphs",
    "detect_language",
    "numerals",
    "profanity_filter",
    "redact",
    "keywords",
    "keyterm",
    "tag",
    "version",
    "multichannel",
    "filler_words",
}
BOOLEAN = {"smart_format", "punctuate", "diarize", "utterances", "paragraphs"}


def error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"err_code": code, "err_msg": message, "request_id": str(uuid.uuid4())}
    return JSONResponse(body, status_code=status, headers=headers)


def create_app(behavior: Behavior) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/listen")
    async def listen(request: Request) -> JSONResponse:
        behavior.calls.append({"params": dict(request.query_params)})
        if request.headers.get("authorization") != f"Token {behavior.api_key}":
            return error(401, "INVALID_AUTH", "Invalid credentials.")
        if behavior.mode == "429":
            return error(
                429,
                "TOO_MANY_REQUESTS",
                "Too many requests. Please try again later",
                {"retry-after": "3"},
            )
        if behavior.mode == "500":
            return error(500, "INTERNAL_SERVER_ERROR", "Internal server error")
        if behavior.mode == "503":
            return error(503, "SERVICE_UNAVAILABLE", "Service temporarily unavailable")
        if behavior.mode == "timeout":
            await behavior.stall()
        params = request.query_params
        if unknown := set(params) - PARAMS:
            return error(400, "Bad Request", f"unknown query parameter {sorted(unknown)[0]}")
        for name in BOOLEAN & set(params):
            if params[name] not in ("true", "false"):
                return error(400, "Bad Request", f"{name} must be true or false")
        body = await request.body()
        if not body:
            return error(400, "Bad Request", "Bad Request: failed to process audio: no audio")
        if not request.headers.get("content-type"):
            return error(415, "UNSUPPORTED_MEDIA_TYPE", "Content-Type is required")
        words = [
            {
                "word": w.strip(",.").lower(),
                "start": i * 0.5,
                "end": i * 0.5 + 0.4,
                "confidence": 0.99,
                "punctuated_word": w,
            }
            for i, w in enumerate(behavior.transcript.split())
        ]
        return JSONResponse(
            {
                "metadata": {
                    "request_id": str(uuid.uuid4()),
                    "created": time.strftime("%FT%TZ"),
                    "duration": 5.0,
                    "channels": 1,
                    "models": [str(uuid.uuid4())],
                    "sha256": "0" * 64,
                    "transaction_key": "deprecated",
                    "model_info": {},
                },
                "results": {
                    "channels": [
                        {
                            "alternatives": [
                                {
                                    "transcript": behavior.transcript,
                                    "confidence": 0.99,
                                    "words": words,
                                }
                            ]
                        }
                    ]
                },
            }
        )

    return app
