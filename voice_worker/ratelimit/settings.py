"""Rate-limit settings (VOICE_RATE_LIMIT__*), nested in the worker's Settings."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr

RouteClass = Literal["speech", "transcription", "turns", "sessions", "realtime", "other"]


class RequestLimits(BaseModel):
    """Requests per minute for each user and route class (VOICE_RATE_LIMIT__REQUESTS__*;
    0: no limit)."""

    speech: int = Field(120, ge=0, description="/v1/audio/speech, /api/voice/tts.")
    transcription: int = Field(60, ge=0, description="/v1/audio/transcriptions, /api/voice/stt.")
    turns: int = Field(30, ge=0, description="Voice chat turns (.../messages, .../text).")
    sessions: int = Field(300, ge=0, description="Session and history routes.")
    realtime: int = Field(30, ge=0, description="Realtime WebSocket handshakes and client secrets.")
    other: int = Field(300, ge=0, description="Everything else (models, voices).")

    def of(self, route: RouteClass) -> int:
        return int(getattr(self, route))


class RateLimitSettings(BaseModel):
    """Rate limits (VOICE_RATE_LIMIT__*): per user, or per client address for anonymous
    callers, and per route class; shared by every worker when stored in Redis."""

    enabled: bool | None = Field(
        None, description="Apply the limits (empty: when VOICE_AUTH__MODE is not none)."
    )
    storage: Literal["memory", "redis"] = Field(
        "memory",
        description="Where counts live: memory (this process only) or redis (every worker "
        "shares one budget).",
    )
    redis_url: SecretStr = Field(
        SecretStr(""), description="Redis URL of the counts (empty: VOICE_CACHE__REDIS_URL)."
    )
    key_prefix: str = Field("voice-ratelimit", description="Prefix of every Redis key.")
    requests: RequestLimits = Field(default_factory=RequestLimits)
    audio_seconds_per_minute: int = Field(
        600,
        ge=0,
        description="Seconds of audio each user may have transcribed a minute (uploads, "
        "voice turns); 0: no limit.",
    )
    characters_per_minute: int = Field(
        20_000,
        ge=0,
        description="Characters each user may have spoken a minute by the speech routes; "
        "0: no limit.",
    )
    realtime_connections: int = Field(
        4, ge=0, description="WebSocket connections each user may hold at once (0: no limit)."
    )
    on_storage_error: Literal["allow", "deny"] = Field(
        "allow",
        description="When Redis cannot be reached: allow (serve unlimited, log once per "
        "error_log_seconds, count in /metrics) or deny (503).",
    )
    error_log_seconds: float = Field(
        60.0, gt=0, description="At most one log line per this many seconds about Redis."
    )
    retry_seconds: float = Field(
        1.0, gt=0, description="After a Redis failure, skip Redis this long before retrying."
    )
    socket_timeout_seconds: float = Field(0.25, gt=0, description="Redis socket timeout.")
    trust_forwarded_for: bool = Field(
        False,
        description="Anonymous callers' address from X-Forwarded-For (set it behind a proxy "
        "such as the bridge, which sets the header; never when clients reach workers "
        "directly).",
    )

    def active(self, auth_mode: str) -> bool:
        return self.enabled if self.enabled is not None else auth_mode != "none"
