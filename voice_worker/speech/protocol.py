"""Request bodies of the speech routes (what the HTTP layer validates)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SpeechFormat = Literal["mp3", "opus", "aac", "flac", "wav", "pcm"]

#: OpenAI's voice and model names; with a non-OpenAI provider they map to its defaults
OPENAI_VOICES = frozenset(
    [
        "alloy",
        "ash",
        "ballad",
        "coral",
        "echo",
        "fable",
        "onyx",
        "nova",
        "sage",
        "shimmer",
        "verse",
        "marin",
        "cedar",
    ]
)
OPENAI_TTS_MODELS = frozenset({"tts-1", "tts-1-hd", "gpt-4o-mini-tts"})


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
    speed: float = Field(1.0, ge=0.25, le=4.0)
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
    speed: float = Field(1.0, ge=0.25, le=4.0)
    sample_rate: int = Field(0, ge=0, le=192_000)
    language: str = ""
    stream: bool = False
