"""`POST /api/voice/tts` (JSON in, audio out) and `POST /api/voice/stt` (multipart
`file`, JSON transcript out with segments and words): the design's own routes, over
the same domain services as the OpenAI ones."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import Response

from voice_worker.deps import SpeechDep, TranscriberDep
from voice_worker.http.openapi import AUDIO, errors
from voice_worker.ratelimit.limiter import Resource
from voice_worker.ratelimit.meter import charge
from voice_worker.speech.protocol import TTSRequest
from voice_worker.speech.responses import audio_response
from voice_worker.stt.base import TranscriptionOptions
from voice_worker.transcription.formats import to_verbose_json
from voice_worker.transcription.router import read_upload

router = APIRouter(prefix="/api/voice", tags=["voice"])


@router.post(
    "/tts",
    response_class=Response,
    responses={
        200: {"description": "The audio in `format`.", "content": AUDIO},
        **errors(400, 502, 503, 504),
    },
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


@router.post("/stt", responses=errors(400, 413, 502, 503, 504))
async def stt(
    transcriber: TranscriberDep,
    file: Annotated[UploadFile, File()],
    language: Annotated[str, Form()] = "",
    prompt: Annotated[str, Form()] = "",
    words: Annotated[bool, Form()] = False,
) -> dict[str, object]:
    upload = await read_upload(file, transcriber)
    options = TranscriptionOptions(
        language=language or None, prompt=prompt or None, word_timestamps=words
    )
    transcript = await transcriber.transcribe(upload, options)
    granularities = frozenset({"segment", "word"} if words else {"segment"})
    return {"provider": transcriber.provider.name, **to_verbose_json(transcript, granularities)}
