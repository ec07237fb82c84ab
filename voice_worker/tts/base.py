"""The text-to-speech capability as the worker sees it: text in, encoded audio out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from shared.audio.formats import AudioFormat


@dataclass(frozen=True)
class SpeechOptions:
    voice: str = ""  # "" = the provider's default
    model: str = ""  # "" = the provider's default
    format: AudioFormat = AudioFormat.MP3
    speed: float = 1.0
    sample_rate: int = 0  # 0 = the model's own
    language: str = ""
    instructions: str = ""


@dataclass(frozen=True)
class Speech:
    audio: bytes
    format: AudioFormat
    sample_rate: int
    duration: float
    model: str = ""
    voice: str = ""


@runtime_checkable
class TTSProvider(Protocol):
    """One text-to-speech engine (the model server over gRPC, OpenAI, ElevenLabs)."""

    name: str

    async def synthesize(self, text: str, options: SpeechOptions) -> Speech:
        """The whole utterance, encoded as `options.format`."""
        ...

    def stream(self, text: str, options: SpeechOptions) -> AsyncIterator[bytes]:
        """Encoded bytes as they are produced; their concatenation is one valid file."""
        ...
