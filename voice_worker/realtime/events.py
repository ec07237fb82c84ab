"""The server's events and items, built with the SDK's GA types (each event gets a new
`event_id`). realtime/beta.py renames them for beta clients."""

from __future__ import annotations

from typing import Any, Literal

from openai.types.realtime import (
    ConversationItemAdded,
    ConversationItemDone,
    ConversationItemInputAudioTranscriptionCompletedEvent,
    ConversationItemInputAudioTranscriptionDeltaEvent,
    ConversationItemInputAudioTranscriptionFailedEvent,
    RealtimeConversationItemAssistantMessage,
    RealtimeConversationItemUserMessage,
    RealtimeResponse,
)
from pydantic import BaseModel

from voice_worker.errors import VoiceError
from voice_worker.realtime.errors import error_detail
from voice_worker.realtime.formats import Format, format_object
from voice_worker.realtime.ids import new_id

Status = Literal["completed", "incomplete", "in_progress"]


def event(model: type[BaseModel], **fields: Any) -> BaseModel:
    """`model` with a new event_id; the type is the model's own."""
    kind = model.model_fields["type"].annotation.__args__[0]  # type: ignore[union-attr]
    return model.model_validate({"type": kind, "event_id": new_id("event"), **fields})


def user_item(
    item_id: str, text: str | None = None, transcript: str | None = None
) -> RealtimeConversationItemUserMessage:
    """A user message: typed `text`, or audio with its `transcript` (None: not yet)."""
    content: dict[str, Any]
    if text is not None:
        content = {"type": "input_text", "text": text}
    else:
        content = {"type": "input_audio", "transcript": transcript}
    return RealtimeConversationItemUserMessage.model_validate(
        {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "role": "user",
            "status": "completed",
            "content": [content],
        }
    )


def assistant_item(
    item_id: str, status: Status, transcript: str | None = None
) -> RealtimeConversationItemAssistantMessage:
    content = [] if transcript is None else [{"type": "output_audio", "transcript": transcript}]
    return RealtimeConversationItemAssistantMessage.model_validate(
        {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "role": "assistant",
            "status": status,
            "content": content,
        }
    )


def item_added(item: BaseModel, previous: str | None) -> BaseModel:
    return event(ConversationItemAdded, item=item, previous_item_id=previous)


def item_done(item: BaseModel, previous: str | None) -> BaseModel:
    return event(ConversationItemDone, item=item, previous_item_id=previous)


def transcription_delta(item_id: str, delta: str) -> BaseModel:
    return event(
        ConversationItemInputAudioTranscriptionDeltaEvent,
        item_id=item_id,
        content_index=0,
        delta=delta,
    )


def transcription_completed(item_id: str, transcript: str, seconds: float) -> BaseModel:
    return event(
        ConversationItemInputAudioTranscriptionCompletedEvent,
        item_id=item_id,
        content_index=0,
        transcript=transcript,
        usage={"type": "duration", "seconds": round(seconds, 3)},
    )


def transcription_failed(item_id: str, error: VoiceError) -> BaseModel:
    detail = error_detail(error)
    return event(
        ConversationItemInputAudioTranscriptionFailedEvent,
        item_id=item_id,
        content_index=0,
        error=detail.model_dump(exclude={"event_id"}),
    )


def response_object(
    response_id: str,
    status: Literal["completed", "cancelled", "failed", "in_progress"],
    voice: str,
    output: list[BaseModel] | None = None,
    reason: str | None = None,
    error: VoiceError | None = None,
    usage: dict[str, int] | None = None,
    metadata: dict[str, str] | None = None,
    audio_format: Format = "audio/pcm",
) -> RealtimeResponse:
    data: dict[str, Any] = {
        "id": response_id,
        "object": "realtime.response",
        "status": status,
        "output": [o.model_dump(exclude_unset=True) for o in output or []],
        "output_modalities": ["audio"],
        "audio": {"output": {"format": format_object(audio_format), "voice": voice}},
        "conversation_id": "conv_default",
        "metadata": metadata,
    }
    if status == "cancelled":
        data["status_details"] = {"type": "cancelled", "reason": reason}
    elif status == "failed" and error is not None:
        detail = error_detail(error)
        data["status_details"] = {
            "type": "failed",
            "error": {"type": detail.type, "code": detail.code, "message": detail.message},
        }
    if usage:
        prompt, completion = usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)
        data["usage"] = {
            "input_tokens": prompt,
            "output_tokens": completion,
            "total_tokens": prompt + completion,
            "input_token_details": {
                "text_tokens": prompt,
                "audio_tokens": 0,
                "cached_tokens": usage.get("cached_tokens", 0),
            },
            "output_token_details": {"text_tokens": completion, "audio_tokens": 0},
        }
    return RealtimeResponse.model_validate(data)
