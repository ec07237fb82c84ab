"""OpenAI's voice and model names. With a provider other than OpenAI they map to the
engine's own (VOICE_TTS__VOICE_MAP, else the default voice and model), so OpenAI
clients work unchanged."""

from __future__ import annotations

OPENAI_VOICES = frozenset(
    [
        "alloy",
        "ash",
        "ballad",
        "coral",
        "echo",
        "fable",
        "onyx",
        "nova",
        "sage",
        "shimmer",
        "verse",
        "marin",
        "cedar",
    ]
)
OPENAI_TTS_MODELS = frozenset({"tts-1", "tts-1-hd", "gpt-4o-mini-tts"})
