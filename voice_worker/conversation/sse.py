"""A streamed turn as Server-Sent Events (`Accept: text/event-stream`), in order:
`transcript` (spoken turns), then `reply.delta`, `thinking.delta` and `audio.delta`
(base64; concatenated, one valid file in the session's format) as they happen, then
`done` with the message ids, timings and usage. A failure after the stream has begun
is an `error` event with the same body as an HTTP error, and nothing is stored. Each
event is `event: <type>` plus one `data:` line of JSON that repeats the type."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator

from fastapi.responses import StreamingResponse

from shared.logs import request_id_var
from voice_worker.conversation.events import (
    AudioDelta,
    ReplyDelta,
    ThinkingDelta,
    Transcribed,
    TurnDone,
    TurnEvent,
)
from voice_worker.errors import VoiceError
from voice_worker.http.errors import error_body

log = logging.getLogger(__name__)
MEDIA_TYPE = "text/event-stream"


def turn_events(events: AsyncGenerator[TurnEvent, None]) -> StreamingResponse:
    return StreamingResponse(
        _body(events),
        media_type=MEDIA_TYPE,
        headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
    )


async def _body(events: AsyncGenerator[TurnEvent, None]) -> AsyncIterator[bytes]:
    try:
        async for event in events:
            yield sse(_data(event))
    except VoiceError as exc:
        log.warning("streamed turn failed", extra={"error": exc.message})
        yield sse({"type": "error", **error_body(exc)})
    except Exception:
        request_id = request_id_var.get() or "unknown"
        log.exception("streamed turn failed")
        message = f"internal error in the voice worker (request {request_id})"
        yield sse({"type": "error", "error": {"message": message, "type": "server_error"}})
    finally:
        await events.aclose()  # a client gone: the chat and the synthesis stop here


def sse(data: dict[str, object]) -> bytes:
    return f"event: {data['type']}\ndata: {json.dumps(data)}\n\n".encode()


def _data(event: TurnEvent) -> dict[str, object]:
    if isinstance(event, Transcribed):
        return {"type": "transcript", "text": event.text}
    if isinstance(event, ReplyDelta):
        return {"type": "reply.delta", "text": event.text}
    if isinstance(event, ThinkingDelta):
        return {"type": "thinking.delta", "text": event.text}
    if isinstance(event, AudioDelta):
        data: dict[str, object] = {
            "type": "audio.delta",
            "audio": base64.b64encode(event.audio).decode(),
        }
        if event.text:
            data |= {"text": event.text, "text_start": round(event.text_start, 3)}
        return data
    assert isinstance(event, TurnDone)
    r = event.result
    return {
        "type": "done",
        "session_id": r.session_id,
        "user_message_id": r.user_message_id,
        "assistant_message_id": r.assistant_message_id,
        "transcript": r.transcript,
        "reply_text": r.reply_text,
        "thinking": r.thinking,
        "audio_format": r.audio_format,
        "sample_rate": r.sample_rate,
        "audio_duration": round(r.audio_duration, 3),
        "timings": {k: round(v, 4) for k, v in r.timings.items()},
        "usage": r.usage,
        "cached": r.cached,
    }
