"""The speech-to-text capability: audio bytes in, a transcript out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Word:
    word: str
    start: float
    end: float


@dataclass(frozen=True)
class Segment:
    id: int
    start: float
    end: float
    text: str
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0
    compression_ratio: float = 0.0
    temperature: float = 0.0
    tokens: tuple[int, ...] = ()


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str = "en"
    duration: float = 0.0  # seconds of input audio
    segments: tuple[Segment, ...] = ()
    words: tuple[Word, ...] = ()
    extra: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class TranscriptionOptions:
    language: str | None = None
    prompt: str | None = None
    temperature: float = 0.0
    word_timestamps: bool = False


@runtime_checkable
class STTProvider(Protocol):
    """One speech-to-text engine (local faster-whisper, OpenAI, Deepgram, mock)."""

    name: str

    async def transcribe(self, audio: bytes, options: TranscriptionOptions) -> Transcript:
        """Transcribe an encoded audio file (any container the worker accepts)."""
        ...
