"""`POST /v1/audio/speech`: OpenAI's contract over `CachedSpeech`."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from voice_worker.deps import SpeechDep
from voice_worker.http.openapi import AUDIO, SPEECH_EVENTS, errors
from voice_worker.ratelimit.limiter import Resource
from voice_worker.ratelimit.meter import charge
from voice_worker.speech.protocol import OpenAISpeechRequest
from voice_worker.speech.responses import audio_response, sse_response

router = APIRouter(tags=["speech"])


@router.post(
    "/v1/audio/speech",
    response_class=Response,
    responses={
        200: {
            "description": "The audio in `response_format`; with `stream_format=sse`, "
            "Server-Sent Events (speech.audio.delta ... speech.audio.done).",
            "content": {**AUDIO, **SPEECH_EVENTS},
        },
        **errors(400, 502, 503, 504),
    },
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
