"""Settings pieces both services use. Each service has one pydantic-settings class
(env prefix `VOICE_`, nesting with `__`); these are the shared nested groups."""

from __future__ import annotations

from pydantic import BaseModel, Field


class LoggingSettings(BaseModel):
    """Log output (VOICE_LOG__*)."""

    level: str = Field("INFO", description="Minimum log level: DEBUG, INFO, WARNING, ERROR.")
    json_format: bool = Field(
        True, description="One JSON object per line (false: plain text for a terminal)."
    )
