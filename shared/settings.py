"""Settings pieces both services use. Each service has one pydantic-settings class
(env prefix `VOICE_`, nesting with `__`); these are the shared nested groups."""

from __future__ import annotations

from pydantic import BaseModel, Field

from shared.audio.formats import AudioFormat


class LoggingSettings(BaseModel):
    """Log output (VOICE_LOG__*)."""

    level: str = Field("INFO", description="Minimum log level: DEBUG, INFO, WARNING, ERROR.")
    json_format: bool = Field(
        True, description="One JSON object per line (false: plain text for a terminal)."
    )


class AudioSettings(BaseModel):
    """Encoded audio (VOICE_AUDIO__*): bit rates of the lossy formats, mono."""

    mp3_kbps: int = Field(96, ge=8, le=320, description="MP3 bit rate in kbit/s (mono).")
    aac_kbps: int = Field(96, ge=8, le=320, description="AAC bit rate in kbit/s (mono).")

    def bit_rates(self) -> dict[AudioFormat, int]:
        """Bits per second by format, for shared.audio's encoders."""
        return {AudioFormat.MP3: self.mp3_kbps * 1000, AudioFormat.AAC: self.aac_kbps * 1000}
