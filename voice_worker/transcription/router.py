"""`POST /v1/audio/transcriptions` (OpenAI's multipart contract) and `POST /api/voice/stt`
(the design's own: multipart `file`, JSON transcript out with segments and words) over
`Transcriber`, which the app puts on `app.state.transcriber`."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from voice_worker.errors import InvalidRequest
from voice_worker.http.responses import errors
from voice_worker.ratelimit.budgets import spends
from voice_worker.stt.base import TranscriptionOptions
from voice_worker.transcription.formats import (
    Granularity,
    ResponseFormat,
    render,
    to_verbose_json,
)
from voice_worker.transcription.transcriber import Transcriber, Upload


def transcriber(request: Request) -> Transcriber:
    return cast(Transcriber, request.app.state.transcriber)


TranscriberDep = Annotated[Transcriber, Depends(transcriber)]
router = APIRouter()


async def read_upload(file: UploadFile, transcriber: Transcriber, param: str = "file") -> Upload:
    transcriber.check_size(file.size, param)  # before reading it into memory
    data = await file.read()
    return Upload(data, file.filename or "", file.content_type or "", param)


@router.post(
    "/v1/audio/transcriptions",
    tags=["transcription"],
    response_class=Response,
    responses={
        200: {
            "description": "The transcript in `response_format`: json and verbose_json as "
            "JSON, text and srt as text/plain, vtt as text/vtt.",
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "text/plain": {"schema": {"type": "string"}},
                "text/vtt": {"schema": {"type": "string"}},
            },
        },
        **errors(400, 413, 502, 503, 504),
    },
    openapi_extra=spends("transcription"),
)
async def create_transcription(
    transcriber: TranscriberDep,
    file: Annotated[UploadFile, File()],
    model: Annotated[str, Form()] = "whisper-1",
    language: Annotated[str, Form()] = "",
    prompt: Annotated[str, Form()] = "",
    response_format: Annotated[ResponseFormat, Form()] = "json",
    temperature: Annotated[float, Form(ge=0.0, le=1.0)] = 0.0,
    granularities: Annotated[list[Granularity], Form(alias="timestamp_granularities[]")] = [],  # noqa: B006 (FastAPI copies defaults)
    stream: Annotated[
        bool, Form(description="Not supported: false.", json_schema_extra={"enum": [False]})
    ] = False,
) -> Response:
    if stream:
        raise InvalidRequest("streamed transcription is not supported", param="stream")
    if granularities and response_format != "verbose_json":
        raise InvalidRequest(
            "timestamp_granularities[] requires response_format=verbose_json",
            param="timestamp_granularities[]",
        )
    upload = await read_upload(file, transcriber)
    options = TranscriptionOptions(
        language=language or None,
        prompt=prompt or None,
        temperature=temperature,
        word_timestamps="word" in granularities,
    )
    transcript = await transcriber.transcribe(upload, options)
    body, media_type = render(transcript, response_format, frozenset(granularities))
    if isinstance(body, str):
        return PlainTextResponse(body, media_type=media_type)
    return JSONResponse(body)


@router.post(
    "/api/voice/stt",
    tags=["voice"],
    responses=errors(400, 413, 502, 503, 504),
    openapi_extra=spends("transcription"),
)
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
