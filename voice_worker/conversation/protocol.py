"""The bodies of /api/voice/*: what clients send and what they get back."""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, Strict

from shared.audio.formats import AudioFormat
from shared.limits import (
    MAX_LANGUAGE_CHARS,
    MAX_NAME_CHARS,
    MAX_SPEED,
    MAX_TITLE_CHARS,
    MIN_SPEED,
)
from shared.speakable import NONBLANK_PATTERN, PlainStr
from voice_worker.conversation.turn import TurnResult
from voice_worker.store.base import MessageRecord, Quality, SessionRecord, SessionSettings


def _time(unix: float) -> datetime:
    return datetime.fromtimestamp(unix, tz=timezone.utc)


class SessionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: PlainStr = Field(
        "", max_length=MAX_TITLE_CHARS, description="A name for the conversation."
    )
    settings: SessionSettings = Field(default_factory=SessionSettings)


class SettingsPatch(BaseModel):
    """Only the fields sent change."""

    model_config = ConfigDict(extra="forbid")
    voice: PlainStr | None = Field(None, max_length=MAX_NAME_CHARS)
    tts_model: PlainStr | None = Field(None, max_length=MAX_NAME_CHARS)
    audio_format: AudioFormat | None = None
    speed: Annotated[float, Strict()] | None = Field(None, ge=MIN_SPEED, le=MAX_SPEED)
    quality: Quality | None = None
    analyst_role: PlainStr | None = Field(None, max_length=MAX_NAME_CHARS)
    language: PlainStr | None = Field(None, max_length=MAX_LANGUAGE_CHARS)


class SessionPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: PlainStr | None = Field(None, max_length=MAX_TITLE_CHARS)
    settings: SettingsPatch = Field(default_factory=SettingsPatch)


class SessionOut(BaseModel):
    id: str
    title: str
    owner: str = Field(description="The user whose session it is.")
    settings: SessionSettings
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, record: SessionRecord) -> SessionOut:
        return cls(
            id=record.id,
            title=record.title,
            owner=record.owner,
            settings=record.settings,
            created_at=_time(record.created_at),
            updated_at=_time(record.updated_at),
        )


class SessionPage(BaseModel):
    items: list[SessionOut]
    next_cursor: str | None


class ToolCallOut(BaseModel):
    """A tool call made for a reply, and what it returned."""

    id: str
    name: str
    arguments: str = Field(description="The arguments, JSON text as the model wrote them.")
    output: str = Field(description="What the tool returned, or why it could not.")
    error: bool = Field(description="The tool failed (the output says why).")


class MessageOut(BaseModel):
    id: int
    role: str
    text: str
    thinking: str
    transcript: str | None
    audio_format: str | None
    audio_duration: float | None
    timings: dict[str, float]
    created_at: datetime
    tool_calls: list[ToolCallOut] = Field(
        default_factory=list, description="An assistant's: the tool calls made for it."
    )

    @classmethod
    def of(cls, m: MessageRecord) -> MessageOut:
        return cls(
            id=m.id,
            role=m.role,
            text=m.text,
            thinking=m.thinking,
            transcript=m.transcript,
            audio_format=m.audio_format,
            audio_duration=m.audio_duration,
            timings=m.timings,
            created_at=_time(m.created_at),
            tool_calls=[ToolCallOut.model_validate(c) for c in m.tool_calls],
        )


class MessagePage(BaseModel):
    items: list[MessageOut]
    next_cursor: str | None


class TextTurn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(
        description="What the user says, typed: plain text, not only white space.",
        json_schema_extra={"minLength": 1, "pattern": NONBLANK_PATTERN},
    )


class TurnOut(BaseModel):
    session_id: str
    transcript: str | None
    reply_text: str
    thinking: str
    audio_format: str
    audio_base64: str
    sample_rate: int
    audio_duration: float
    timings: dict[str, float] = Field(
        description="Seconds from the start of the turn: stt, chat_first_token, chat "
        "(the reply written), first_audio; tts_first_audio (from the first word written "
        "to its first audio), tts, store, total."
    )
    usage: dict[str, int] = Field(
        default_factory=dict, description="The chat model's prompt and completion tokens."
    )
    user_message_id: int
    assistant_message_id: int
    cached: bool

    @classmethod
    def of(cls, t: TurnResult) -> TurnOut:
        return cls(
            session_id=t.session_id,
            transcript=t.transcript,
            reply_text=t.reply_text,
            thinking=t.thinking,
            audio_format=t.audio_format,
            audio_base64=base64.b64encode(t.audio).decode(),
            sample_rate=t.sample_rate,
            audio_duration=t.audio_duration,
            timings=t.timings,
            user_message_id=t.user_message_id,
            assistant_message_id=t.assistant_message_id,
            cached=t.cached,
            usage=t.usage,
        )
