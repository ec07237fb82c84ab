"""Wyoming settings (VOICE_WYOMING__*), nested in the worker's Settings."""

from __future__ import annotations

from urllib.parse import urlparse

from pydantic import BaseModel, Field, field_validator

from shared.limits import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE


class WyomingSettings(BaseModel):
    """The Wyoming server for Home Assistant and voice satellites, `voice-engine
    serve-wyoming` (VOICE_WYOMING__*). Its limits are the worker's own: text length
    VOICE_TTS__MAX_INPUT_CHARS, audio length VOICE_STT__MAX_SECONDS."""

    uri: str = Field(
        "tcp://127.0.0.1:10300",
        description="Where it listens: tcp://HOST:PORT or unix:///path/to.sock.",
    )
    sample_rate: int = Field(
        22_050,
        ge=MIN_SAMPLE_RATE,
        le=MAX_SAMPLE_RATE,
        description="Rate of the audio it sends (s16le mono), whatever the voice's own.",
    )
    samples_per_chunk: int = Field(1024, ge=64, description="Samples per audio-chunk event.")
    zeroconf: bool = Field(
        False, description="Announce the server on the local network (_wyoming._tcp mDNS)."
    )
    zeroconf_name: str = Field("voice-engine", description="Service name of the announcement.")
    zeroconf_host: str = Field(
        "", description="Address announced (empty: the one that routes to the LAN)."
    )
    shutdown_grace_seconds: float = Field(
        10.0, ge=0, description="On SIGTERM, how long requests in progress may finish."
    )
    catalogue_wait_seconds: float = Field(
        30.0,
        ge=0,
        description=(
            "At start, how long it waits for the model servers' first voice catalogue "
            "before it listens, so that the first describe lists the voices (0: not at "
            "all; past it, it listens anyway and reads the catalogue on each describe)."
        ),
    )

    @field_validator("uri")
    @classmethod
    def _known_scheme(cls, uri: str) -> str:
        parsed = urlparse(uri)
        if parsed.scheme == "tcp" and parsed.hostname and parsed.port is not None:
            return uri
        if parsed.scheme == "unix" and parsed.path:
            return uri
        raise ValueError(f"{uri!r}: use tcp://HOST:PORT or unix:///path/to.sock")
