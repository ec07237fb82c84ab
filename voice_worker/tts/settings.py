"""Text-to-speech settings (VOICE_TTS__*), and how the worker reaches the model servers
(VOICE_GRPC__*), nested in the worker's Settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from shared.limits import MAX_TEXT_CHARS
from voice_contract.channels import ChannelSecurity


class OpenAITTSSettings(BaseModel):
    """OpenAI speech (VOICE_TTS__OPENAI__*)."""

    api_key: SecretStr = Field(SecretStr(""), description="OpenAI API key.")
    base_url: str = Field("https://api.openai.com/v1", description="API base URL.")
    model: str = Field("gpt-4o-mini-tts", description="Model when the request names none.")
    voice: str = Field("alloy", description="Voice when the request names none.")


class ElevenLabsSettings(BaseModel):
    """ElevenLabs text-to-speech (VOICE_TTS__ELEVENLABS__*)."""

    api_key: SecretStr = Field(SecretStr(""), description="ElevenLabs API key (xi-api-key).")
    base_url: str = Field("https://api.elevenlabs.io", description="API base URL.")
    model: str = Field("eleven_multilingual_v2", description="model_id when none is named.")
    voice_id: str = Field("21m00Tcm4TlvDq8ikWAM", description="Voice when none is named.")
    voices: dict[str, str] = Field(
        default_factory=dict, description="Voice names (e.g. OpenAI's) to ElevenLabs voice IDs."
    )


class FleetSettings(BaseModel):
    """Routing over several model servers (VOICE_TTS__FLEET__*), when
    VOICE_TTS__MODEL_SERVERS is set."""

    refresh_seconds: float = Field(
        1.0,
        gt=0,
        description="How often each model server's models and in-flight counts are read "
        "(and at once after a failure); a server that fails is skipped until it answers.",
    )
    resolve_seconds: float = Field(
        5.0, ge=0, description="How often names in model_servers are resolved again (0: once)."
    )
    list_timeout_seconds: float = Field(
        2.0, gt=0, description="Deadline of one ListModels call to a model server."
    )
    default_model: str = Field(
        "",
        description="Model for requests that name none (empty: the one most servers call "
        "their default).",
    )
    spread_in_flight: int = Field(
        8,
        ge=0,
        description="Load a second copy of a model on another server that can load it when "
        "every server holding it has this many requests in flight (0: one copy per model).",
    )


class TTSSettings(BaseModel):
    """Text-to-speech (VOICE_TTS__*)."""

    provider: Literal["model_server", "openai", "elevenlabs"] = Field(
        "model_server", description="Engine: model_server, openai or elevenlabs."
    )
    model_server: str = Field(
        "127.0.0.1:50051", description="Model server gRPC address (when model_servers is empty)."
    )
    model_servers: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Several model servers, each request routed to one that has its model: "
        'a JSON list (["10.0.0.5:50051","10.0.0.6:50051"]) or comma-separated HOST:PORT '
        "targets; a name (dns:///model-servers.voice-engine.svc.cluster.local:50051, a "
        "Kubernetes headless Service) stands for every address it resolves to. Empty: the "
        "one model_server.",
    )
    fleet: FleetSettings = Field(default_factory=FleetSettings)
    timeout_seconds: float = Field(60.0, gt=0, description="Deadline of one synthesis.")
    max_retries: int = Field(
        2,
        ge=0,
        le=4,
        description="Retries while no audio has arrived (UNAVAILABLE, busy, 429, 5xx); with "
        "model_servers, each retry goes to the next server.",
    )
    max_input_chars: int = Field(MAX_TEXT_CHARS, ge=1, description="Longest text accepted.")
    voice_map: dict[str, str] = Field(
        default_factory=dict,
        description="OpenAI voice names to engine voices (unmapped: the default voice).",
    )
    openai: OpenAITTSSettings = Field(default_factory=OpenAITTSSettings)
    elevenlabs: ElevenLabsSettings = Field(default_factory=ElevenLabsSettings)

    @field_validator("model_servers", mode="before")
    @classmethod
    def _targets(cls, value: object) -> object:
        """A JSON list, or targets separated by commas or spaces."""
        if isinstance(value, str):
            text = value.strip()
            return json.loads(text) if text.startswith("[") else text.replace(",", " ").split()
        return value


class GrpcClientSettings(BaseModel):
    """How the worker reaches the model servers (VOICE_GRPC__*; the same token variable
    as the model server's, so one environment serves both)."""

    token: SecretStr = Field(
        SecretStr(""), description="The model servers' shared secret (empty: none sent)."
    )
    tls_ca_file: Path | None = Field(
        None,
        description="CA certificate (PEM) the model servers' certificates are checked "
        "against: connect with TLS (empty: plaintext).",
    )
    tls_server_name: str = Field(
        "", description="Name expected in the servers' certificate (empty: the host)."
    )

    def channel_security(self) -> ChannelSecurity:
        return ChannelSecurity(
            self.token.get_secret_value(), self.tls_ca_file, self.tls_server_name
        )
