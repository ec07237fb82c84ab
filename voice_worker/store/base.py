"""The store capability: sessions, their messages (each turn written whole), and the
model server's TTS models. Records are plain dataclasses; settings a pydantic model so
that the HTTP layer validates them with the same rules."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, Literal, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, Field

from shared.audio.formats import AudioFormat
from shared.limits import (
    MAX_LANGUAGE_CHARS,
    MAX_NAME_CHARS,
    MAX_SPEED,
    MIN_SPEED,
)
from shared.speakable import PlainStr

T = TypeVar("T")
Quality = Literal["low", "standard", "high"]
#: the design's quality settings: the output sample rate (0: the voice's own rate)
QUALITY_SAMPLE_RATES: dict[str, int] = {"low": 16_000, "standard": 0, "high": 44_100}


class SessionSettings(BaseModel):
    """Per-session voice and chat settings (every field optional in a PATCH)."""

    voice: PlainStr = Field(
        "", max_length=MAX_NAME_CHARS, description="TTS voice ('' = the default)."
    )
    tts_model: PlainStr = Field(
        "", max_length=MAX_NAME_CHARS, description="TTS model ('' = the model server's default)."
    )
    audio_format: AudioFormat = Field(AudioFormat.MP3, description="Format of the reply audio.")
    speed: float = Field(1.0, ge=MIN_SPEED, le=MAX_SPEED, description="Speaking rate.")
    quality: Quality = Field(
        "standard", description="low: 16 kHz; standard: the voice's own rate; high: 44.1 kHz."
    )
    analyst_role: PlainStr = Field(
        "", max_length=MAX_NAME_CHARS, description="Persona of the assistant ('' = the default)."
    )
    language: PlainStr = Field(
        "en", max_length=MAX_LANGUAGE_CHARS, description="Language of what the user says."
    )

    @property
    def sample_rate(self) -> int:
        return QUALITY_SAMPLE_RATES[self.quality]


@dataclass(frozen=True)
class SessionRecord:
    id: str
    title: str
    settings: SessionSettings
    created_at: float  # unix seconds
    updated_at: float


@dataclass(frozen=True)
class NewMessage:
    role: Literal["user", "assistant"]
    text: str
    thinking: str = ""
    transcript: str | None = None  # what STT heard (user messages from audio)
    audio_format: str | None = None
    audio_duration: float | None = None  # seconds
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage


@dataclass(frozen=True)
class MessageRecord(NewMessage):
    id: int = 0
    session_id: str = ""
    created_at: float = 0.0


@dataclass(frozen=True)
class TTSModelRecord:
    name: str
    backend: str
    sample_rate: int
    is_default: bool
    state: str
    synced_at: float = 0.0


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


@runtime_checkable
class ChatStore(Protocol):
    async def create_session(self, settings: SessionSettings, title: str = "") -> SessionRecord: ...

    async def get_session(self, session_id: str) -> SessionRecord | None: ...

    async def list_sessions(
        self, limit: int = 50, cursor: str | None = None
    ) -> Page[SessionRecord]: ...

    async def update_session(
        self, session_id: str, settings: SessionSettings, title: str | None = None
    ) -> SessionRecord | None: ...

    async def delete_session(self, session_id: str) -> bool: ...

    async def add_turn(
        self, session_id: str, user: NewMessage, assistant: NewMessage
    ) -> tuple[MessageRecord, MessageRecord]:
        """Both messages in one transaction: a turn is stored whole or not at all.
        LookupError when the session does not exist (any more)."""
        ...

    async def update_reply(
        self, session_id: str, message_id: int, text: str, audio_duration: float
    ) -> bool:
        """Cut a stored assistant message to `text` (what its listener heard before
        stopping it, `audio_duration` seconds). False when the session has no such
        assistant message."""
        ...

    async def list_messages(
        self, session_id: str, limit: int = 50, cursor: str | None = None
    ) -> Page[MessageRecord]: ...

    async def count_messages(self, session_id: str) -> int: ...

    async def recent_messages(self, session_id: str, limit: int) -> list[MessageRecord]:
        """The last `limit` messages, oldest first."""
        ...

    async def replace_tts_models(self, models: Sequence[TTSModelRecord]) -> None: ...

    async def list_tts_models(self) -> list[TTSModelRecord]: ...

    async def ping(self) -> None:
        """Raise if the database cannot be reached (for /readyz)."""
        ...

    async def close(self) -> None: ...
