"""The speech-to-text capability: audio bytes in, a transcript out; and the optional
capability of taking samples the worker has already decoded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt


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


@runtime_checkable
class TranscribesSamples(Protocol):
    """Takes mono float32 samples at `sample_rate` (the worker decodes uploads while
    checking them; a local model then skips decoding them again)."""

    sample_rate: int

    async def transcribe_samples(
        self, samples: npt.NDArray[np.float32], options: TranscriptionOptions
    ) -> Transcript: ...


@dataclass(frozen=True)
class ModelCard:
    """Which model a provider runs and the languages it understands (ISO 639-1)."""

    name: str
    languages: tuple[str, ...]


@runtime_checkable
class DescribesModel(Protocol):
    """Says which model it runs (for catalogues: Wyoming's `describe`)."""

    def model_card(self) -> ModelCard: ...
