"""Request bodies of the speech routes (what the HTTP layer validates; the limits are
shared.limits, the text rule CachedSpeech's)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.limits import MAX_SAMPLE_RATE, MAX_SPEED, MIN_SPEED

SpeechFormat = Literal["mp3", "opus", "aac", "flac", "wav", "pcm"]


class VoiceRef(BaseModel):
    id: str


class OpenAISpeechRequest(BaseModel):
    """OpenAI's `POST /v1/audio/speech` body."""

    model_config = ConfigDict(extra="ignore")

    input: str = Field(min_length=1)
    model: str = ""
    voice: str | VoiceRef = ""
    instructions: str = ""
    response_format: SpeechFormat = "mp3"
    speed: float = Field(1.0, ge=MIN_SPEED, le=MAX_SPEED)
    stream_format: Literal["audio", "sse"] = "audio"

    @property
    def voice_name(self) -> str:
        return self.voice.id if isinstance(self.voice, VoiceRef) else self.voice


class TTSRequest(BaseModel):
    """The design's own `POST /api/voice/tts` body."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1)
    voice: str = ""
    model: str = ""
    format: SpeechFormat = "mp3"
    speed: float = Field(1.0, ge=MIN_SPEED, le=MAX_SPEED)
    sample_rate: int = Field(0, ge=0, le=MAX_SAMPLE_RATE, description="0: the voice's own.")
    language: str = ""
    stream: bool = False
