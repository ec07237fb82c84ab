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
    """How FFmpeg writes one format: container (muxer), codec, a forced sample rate
    where the codec only supports some (Opus is always 48 kHz inside Ogg here), and the
    default bit rate of a lossy codec (0: the codec's own; libopus picks ~64-80 kbit/s
    for mono speech, libmp3lame only 32 kbit/s at 22.05 kHz, audibly poor)."""

    container: str
    codec: str
    forced_rate: int | None = None
    bit_rate: int = 0


DEFAULT_BIT_RATE = 96_000
CODECS: dict[AudioFormat, CodecSpec] = {
    AudioFormat.MP3: CodecSpec("mp3", "libmp3lame", bit_rate=DEFAULT_BIT_RATE),
    AudioFormat.OPUS: CodecSpec("ogg", "libopus", forced_rate=48_000),
    AudioFormat.FLAC: CodecSpec("flac", "flac"),
    AudioFormat.AAC: CodecSpec("adts", "aac", bit_rate=DEFAULT_BIT_RATE),
}

MIME_TYPES: dict[AudioFormat, str] = {
    AudioFormat.WAV: "audio/wav",
    AudioFormat.PCM: "audio/pcm",
    AudioFormat.MP3: "audio/mpeg",
    AudioFormat.OPUS: "audio/ogg",
    AudioFormat.FLAC: "audio/flac",
    AudioFormat.AAC: "audio/aac",
}
