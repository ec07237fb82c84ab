"""Request bodies of the speech routes (what the HTTP layer validates; the limits are
shared.limits, the text rule CachedSpeech's)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, StrictBool

from shared.limits import MAX_SPEED, MIN_SPEED, STANDARD_SAMPLE_RATES
from shared.speakable import PLAIN_PATTERN

#: a name or a style prompt: plain text (the worker refuses control characters)
Plain = Field(json_schema_extra={"pattern": PLAIN_PATTERN})
#: JSON numbers only (no "1.5" strings, no booleans): what the document says
Speed = Annotated[float, Strict(), Field(ge=MIN_SPEED, le=MAX_SPEED)]
RATES = (0, *STANDARD_SAMPLE_RATES)


def _standard_rate(rate: int) -> int:
    if rate not in RATES:
        raise ValueError(f"use 0 (the voice's own) or one of {', '.join(map(str, RATES[1:]))}")
    return rate


#: 0 (the voice's own rate) or one every codec takes
SampleRate = Annotated[
    int, Strict(), AfterValidator(_standard_rate), Field(json_schema_extra={"enum": list(RATES)})
]

SpeechFormat = Literal["mp3", "opus", "aac", "flac", "wav", "pcm"]


class VoiceRef(BaseModel):
    id: Annotated[str, Plain]


class OpenAISpeechRequest(BaseModel):
    """OpenAI's `POST /v1/audio/speech` body."""

    model_config = ConfigDict(extra="ignore")

    input: str = Field(min_length=1)
    model: Annotated[str, Plain] = ""
    voice: Annotated[str, Plain] | VoiceRef = ""
    instructions: Annotated[str, Plain] = ""
    response_format: SpeechFormat = "mp3"
    speed: Speed = 1.0
    stream_format: Literal["audio", "sse"] = "audio"

    @property
    def voice_name(self) -> str:
        return self.voice.id if isinstance(self.voice, VoiceRef) else self.voice


class TTSRequest(BaseModel):
    """The design's own `POST /api/voice/tts` body."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1)
    voice: Annotated[str, Plain] = ""
    model: Annotated[str, Plain] = ""
    format: SpeechFormat = "mp3"
    speed: Speed = 1.0
    sample_rate: SampleRate = Field(0, description="0: the voice's own.")
    language: Annotated[str, Plain] = ""
    stream: StrictBool = False
