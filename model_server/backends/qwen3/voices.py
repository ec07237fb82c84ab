"""What a Qwen3-TTS checkpoint speaks, read from its config.json without torch.

The library keys speakers and languages in lowercase (`talker_config.spk_id`,
`talker_config.codec_language_id`, see `Qwen3TTSForConditionalGeneration.__init__` in
https://github.com/QwenLM/Qwen3-TTS/blob/main/qwen_tts/core/models/modeling_qwen3_tts.py);
the engine reports the names the model card uses (Vivian, Uncle_Fu, ...).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from model_server.backends.base import VoiceInfo

KINDS = ("custom_voice", "voice_design", "base")

#: The preset speakers of the CustomVoice models: display name, gender, description
#: (model card of Qwen3-TTS-12Hz-*-CustomVoice).
PRESET_SPEAKERS: dict[str, tuple[str, str, str]] = {
    "vivian": ("Vivian", "female", "Bright, slightly edgy young female voice; native Chinese."),
    "serena": ("Serena", "female", "Warm, gentle young female voice; native Chinese."),
    "uncle_fu": ("Uncle_Fu", "male", "Seasoned male voice, low mellow timbre; native Chinese."),
    "dylan": ("Dylan", "male", "Youthful Beijing male voice; Chinese (Beijing dialect)."),
    "eric": ("Eric", "male", "Lively Chengdu male voice; Chinese (Sichuan dialect)."),
    "ryan": ("Ryan", "male", "Dynamic male voice with strong rhythmic drive; native English."),
    "aiden": ("Aiden", "male", "Sunny American male voice, clear midrange; native English."),
    "ono_anna": ("Ono_Anna", "female", "Playful Japanese female voice, light timbre."),
    "sohee": ("Sohee", "female", "Warm Korean female voice with rich emotion."),
}

#: ISO 639-1 codes of the languages the 12 Hz models speak, so "en" or "en-US" work too.
ISO_CODES = {
    "chinese": "zh",
    "english": "en",
    "japanese": "ja",
    "korean": "ko",
    "german": "de",
    "french": "fr",
    "russian": "ru",
    "portuguese": "pt",
    "spanish": "es",
    "italian": "it",
}
AUTO = "Auto"

#: The one voice of a VoiceDesign model: the request's `instructions` describe it.
DESIGNED_VOICE = "designed"


@dataclass(frozen=True)
class Checkpoint:
    """The facts of one checkpoint directory the backend needs before loading it."""

    path: Path
    kind: str  # custom_voice | voice_design | base
    size: str  # "0b6", "1b7", ... (config.tts_model_size)
    speakers: tuple[str, ...]  # lowercase, as in the config
    languages: tuple[str, ...]  # lowercase, without dialects and "auto"
    sample_rate: int

    @property
    def accepts_instructions(self) -> bool:
        # The library drops `instruct` for the 0.6B CustomVoice model
        # (qwen3_tts_model.py, generate_custom_voice: `if tts_model_size in "0b6"`).
        if self.kind == "voice_design":
            return True
        return self.kind == "custom_voice" and self.size not in ("0b6", "")

    def language_names(self) -> tuple[str, ...]:
        """Reported languages: the model's names, their ISO codes, and Auto."""
        names = tuple(language.capitalize() for language in self.languages)
        codes = tuple(ISO_CODES[language] for language in self.languages if language in ISO_CODES)
        return (*names, *codes, AUTO)

    def library_language(self, requested: str) -> str:
        """The name the library takes for a (validated) request language."""
        wanted = requested.strip().lower().replace("-", "_")
        if not wanted or wanted == "auto":
            return AUTO
        if wanted in self.languages:
            return wanted
        code = wanted.split("_", 1)[0]
        for language in self.languages:
            if ISO_CODES.get(language) == code:
                return language
        return AUTO


def read_checkpoint(path: Path) -> Checkpoint:
    """Read `config.json` (and the speech tokenizer's) of a checkpoint directory."""
    config_file = path / "config.json"
    if not config_file.is_file():
        raise ValueError(f"{path} is not a Qwen3-TTS checkpoint: {config_file} is missing")
    config = json.loads(config_file.read_text("utf-8"))
    if config.get("model_type") != "qwen3_tts":
        raise ValueError(
            f"{config_file}: model_type is {config.get('model_type')!r}, not qwen3_tts"
        )
    kind = str(config.get("tts_model_type") or "")
    if kind not in KINDS:
        raise ValueError(f"{config_file}: unknown tts_model_type {kind!r}; known: {KINDS}")
    talker = config.get("talker_config") or {}
    speakers = tuple(str(s).lower() for s in (talker.get("spk_id") or {}))
    languages = tuple(
        str(lang).lower()
        for lang in (talker.get("codec_language_id") or {})
        if "dialect" not in str(lang)  # dialects follow the speaker, as in the library
    )
    rate = 24_000
    tokenizer_config = path / "speech_tokenizer" / "config.json"
    if tokenizer_config.is_file():
        rate = int(json.loads(tokenizer_config.read_text("utf-8")).get("output_sample_rate", rate))
    return Checkpoint(
        path=path,
        kind=kind,
        size=str(config.get("tts_model_size") or ""),
        speakers=speakers,
        languages=languages,
        sample_rate=rate,
    )


def speaker_display_name(speaker: str) -> str:
    """`uncle_fu` -> `Uncle_Fu` (the model card's spelling for the presets)."""
    if speaker in PRESET_SPEAKERS:
        return PRESET_SPEAKERS[speaker][0]
    return "_".join(part.capitalize() for part in speaker.split("_"))


def preset_voices(checkpoint: Checkpoint) -> list[VoiceInfo]:
    """The speakers in the model card's order (Vivian first: the default voice), then
    any others the checkpoint has, in its order."""
    languages = checkpoint.language_names()
    order = list(PRESET_SPEAKERS)
    speakers = sorted(
        checkpoint.speakers, key=lambda s: order.index(s) if s in order else len(order)
    )
    voices = []
    for speaker in speakers:
        name, gender, description = PRESET_SPEAKERS.get(
            speaker, (speaker_display_name(speaker), "", "")
        )
        voices.append(VoiceInfo(name, languages, gender, description))
    return voices


def designed_voice(checkpoint: Checkpoint) -> VoiceInfo:
    return VoiceInfo(
        DESIGNED_VOICE,
        checkpoint.language_names(),
        description="A voice described in the request's instructions (VoiceDesign model).",
    )
