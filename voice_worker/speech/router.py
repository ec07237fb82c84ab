"""`POST /v1/audio/speech` (OpenAI's contract) and `POST /api/voice/tts` (the design's
own: JSON in, audio out) over `CachedSpeech`, which the app puts on `app.state.speech`."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from voice_worker.http.responses import AUDIO, SPEECH_EVENTS, errors
from voice_worker.ratelimit.budgets import spends
from voice_worker.ratelimit.limiter import Resource
from voice_worker.ratelimit.meter import charge
from voice_worker.speech.cached_speech import CachedSpeech
from voice_worker.speech.protocol import OpenAISpeechRequest, TTSRequest
from voice_worker.speech.responses import audio_response, sse_response


def speech(request: Request) -> CachedSpeech:
    return cast(CachedSpeech, request.app.state.speech)


SpeechDep = Annotated[CachedSpeech, Depends(speech)]
router = APIRouter()


@router.post(
    "/v1/audio/speech",
    tags=["speech"],
    response_class=Response,
    responses={
        200: {
            "description": "The audio in `response_format`; with `stream_format=sse`, "
            "Server-Sent Events (speech.audio.delta ... speech.audio.done).",
            "content": {**AUDIO, **SPEECH_EVENTS},
        },
        **errors(400, 502, 503, 504),
    },
    openapi_extra=spends("speech"),
)
async def create_speech(body: OpenAISpeechRequest, speech: SpeechDep) -> Response:
    job = speech.prepare(
        body.input,
        body.response_format,
        voice=body.voice_name,
        model=body.model,
        speed=body.speed,
        instructions=body.instructions,
    )
    await charge(Resource.CHARACTERS, len(job.text))  # the caller's budget (rate limits)
    output = await speech.speak(job, stream=True)
    if body.stream_format == "sse":
        return sse_response(output, len(body.input))
    return audio_response(output)


@router.post(
    "/api/voice/tts",
    tags=["voice"],
    response_class=Response,
    responses={
        200: {"description": "The audio in `format`.", "content": AUDIO},
        **errors(400, 502, 503, 504),
    },
    openapi_extra=spends("speech"),
)
async def tts(body: TTSRequest, speech: SpeechDep) -> Response:
    job = speech.prepare(
        body.text,
        body.format,
        voice=body.voice,
        model=body.model,
        speed=body.speed,
        sample_rate=body.sample_rate,
        language=body.language,
        text_param="text",
    )
    await charge(Resource.CHARACTERS, len(job.text))  # the caller's budget (rate limits)
    return audio_response(await speech.speak(job, stream=body.stream))
