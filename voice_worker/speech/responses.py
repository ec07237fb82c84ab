"""Speech output as HTTP: the whole file (with Content-Length), chunked audio, or
OpenAI's server-sent events (`speech.audio.delta` ... `speech.audio.done`)."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator

from fastapi.responses import Response, StreamingResponse

from voice_worker.speech.cached_speech import SpeechOutput


async def _chunks(output: SpeechOutput) -> AsyncIterator[bytes]:
    if output.body is not None:
        yield output.body
    elif output.chunks is not None:
        async for chunk in output.chunks:
            yield chunk


def audio_response(output: SpeechOutput) -> Response:
    headers = {"x-cache": "hit" if output.cached else "miss"}
    if output.body is not None:
        return Response(output.body, media_type=output.media_type, headers=headers)
    return StreamingResponse(_chunks(output), media_type=output.media_type, headers=headers)


async def _events(output: SpeechOutput, input_chars: int) -> AsyncIterator[bytes]:
    size = 0
    async for chunk in _chunks(output):
        size += len(chunk)
        event = {"type": "speech.audio.delta", "audio": base64.b64encode(chunk).decode()}
        yield f"data: {json.dumps(event)}\n\n".encode()
    tokens_in = max(1, input_chars // 4)
    usage = {"input_tokens": tokens_in, "output_tokens": size // 1024, "total_tokens": 0}
    usage["total_tokens"] = usage["input_tokens"] + usage["output_tokens"]
    done = {"type": "speech.audio.done", "usage": usage}
    yield f"data: {json.dumps(done)}\n\n".encode()


def sse_response(output: SpeechOutput, input_chars: int) -> Response:
    return StreamingResponse(
        _events(output, input_chars),
        media_type="text/event-stream",
        headers={"cache-control": "no-cache", "x-cache": "hit" if output.cached else "miss"},
    )
