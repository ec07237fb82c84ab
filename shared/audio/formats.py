"""The audio containers the engine produces, with their FFmpeg names and MIME types."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class AudioFormat(str, enum.Enum):
    """An encoded audio container. Values are the names used on the wire (OpenAI's
    `response_format`, the CLI's `--format`)."""

    WAV = "wav"
    PCM = "pcm"  # raw s16le mono, no header
    MP3 = "mp3"
    OPUS = "opus"  # Opus in Ogg
    FLAC = "flac"
    AAC = "aac"  # AAC in ADTS (HTTP only: the gRPC contract has no AAC)

    @classmethod
    def parse(cls, name: str) -> AudioFormat:
        """The format named `name` (case-insensitive); ValueError lists the valid names."""
        try:
            return cls(name.strip().lower())
        except ValueError:
            valid = ", ".join(f.value for f in cls)
            raise ValueError(f"unknown audio format {name!r}; valid formats: {valid}") from None


@dataclass(frozen=True)
class CodecSpec:
    """How FFmpeg writes one format: container (muxer), codec, and a forced sample rate
    where the codec only supports some (Opus is always 48 kHz inside Ogg here)."""

    container: str
    codec: str
    forced_rate: int | None = None


CODECS: dict[AudioFormat, CodecSpec] = {
    AudioFormat.MP3: CodecSpec("mp3", "libmp3lame"),
    AudioFormat.OPUS: CodecSpec("ogg", "libopus", forced_rate=48_000),
    AudioFormat.FLAC: CodecSpec("flac", "flac"),
    AudioFormat.AAC: CodecSpec("adts", "aac"),
}

MIME_TYPES: dict[AudioFormat, str] = {
    AudioFormat.WAV: "audio/wav",
    AudioFormat.PCM: "audio/pcm",
    AudioFormat.MP3: "audio/mpeg",
    AudioFormat.OPUS: "audio/ogg",
    AudioFormat.FLAC: "audio/flac",
    AudioFormat.AAC: "audio/aac",
}
