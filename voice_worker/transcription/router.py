"""`POST /v1/audio/transcriptions`: OpenAI's multipart contract over `Transcriber`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from voice_worker.deps import TranscriberDep
from voice_worker.errors import InvalidRequest
from voice_worker.http.openapi import errors
from voice_worker.stt.base import TranscriptionOptions
from voice_worker.transcription.formats import Granularity, ResponseFormat, render
from voice_worker.transcription.transcriber import Transcriber, Upload

router = APIRouter(tags=["transcription"])


async def read_upload(file: UploadFile, transcriber: Transcriber, param: str = "file") -> Upload:
    transcriber.check_size(file.size, param)  # before reading it into memory
    data = await file.read()
    return Upload(data, file.filename or "", file.content_type or "", param)


@router.post(
    "/v1/audio/transcriptions",
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
