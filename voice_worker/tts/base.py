"""The text-to-speech capability as the worker sees it: text in, encoded audio out;
and the optional capabilities a provider may add (a catalogue of voices and models)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

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
    first_clause: bool = False  # text streams: the first clause spoken on its own


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
    #: the formats `stream` produces itself; the worker encodes the others from PCM
    native_formats: frozenset[AudioFormat]

    async def synthesize(self, text: str, options: SpeechOptions) -> Speech:
        """The whole utterance, encoded as `options.format`."""
        ...

    def stream(self, text: str, options: SpeechOptions) -> AsyncIterator[bytes]:
        """Encoded bytes as they are produced; their concatenation is one valid file."""
        ...


@dataclass(frozen=True)
class VoiceDescription:
    voice_id: str
    name: str
    model: str = ""
    languages: tuple[str, ...] = ()
    gender: str = ""
    description: str = ""


@dataclass(frozen=True)
class ModelDescription:
    name: str
    backend: str
    sample_rate: int
    is_default: bool
    state: str  # loaded, loading, unloaded


@runtime_checkable
class SupportsVoices(Protocol):
    """Lists the voices it speaks (for GET /v1/audio/voices)."""

    async def voices(self) -> list[VoiceDescription]: ...


@runtime_checkable
class SupportsModels(Protocol):
    """Lists its models (GET /v1/models, and the store's copy of them)."""

    async def models(self) -> list[ModelDescription]: ...


@runtime_checkable
class TakesOpenAINames(Protocol):
    """Knows OpenAI's voice and model names itself (OpenAI): they reach it as sent.
    Any other engine is given its own names for them (VOICE_TTS__VOICE_MAP, else its
    defaults)."""

    takes_openai_names: Literal[True]


@dataclass(frozen=True)
class SpeechPiece:
    """The next bytes of a streamed reply's audio (one valid file in all); `text` is
    set on the piece where a sentence's audio begins, `text_start` says when (seconds
    of audio), so a player's position maps back to the words heard; `sentence_end` on
    the piece after which a sentence's audio is all out."""

    audio: bytes
    text: str = ""
    text_start: float = 0.0
    sentence_end: bool = False  # the sentence's audio is all given (PCM)


@runtime_checkable
class StreamsText(Protocol):
    """Takes text as it is written (a chat model's deltas) and speaks each sentence as
    soon as its end is certain (the model server's SynthesizeTextStream)."""

    def stream_text(
        self, texts: AsyncIterator[str], options: SpeechOptions
    ) -> AsyncGenerator[SpeechPiece, None]: ...
