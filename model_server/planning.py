"""What a speech request asks for, checked: `VoiceSettings` (everything but the text)
resolve against the registry into a `Plan` (the model and voice that will speak), or
raise the domain error naming the field at fault. Text is checked by `check_text`
(shared.speakable's rule), on its own, because a text stream's text arrives later."""

from __future__ import annotations

from dataclasses import dataclass

from model_server.backends.base import SynthesisJob, VoiceInfo
from model_server.errors import InvalidRequestError, NotFoundError, text_error
from model_server.registry import ModelRegistry
from shared.audio.formats import AudioFormat
from shared.limits import (
    MAX_SAMPLE_RATE,
    MAX_SPEED,
    MIN_SAMPLE_RATE,
    MIN_SPEED,
    STANDARD_SAMPLE_RATES,
)
from shared.speakable import TextRejected, check_speakable
from voice_contract.reasons import Reason

#: formats whose codec takes only the standard rates (MP3; AAC is not on the wire)
FIXED_RATE_FORMATS = frozenset({AudioFormat.MP3, AudioFormat.AAC})


@dataclass(frozen=True)
class VoiceSettings:
    model: str = ""  # "": the server's default model
    voice: str = ""  # "": the model's default voice
    language: str = ""
    format: AudioFormat = AudioFormat.WAV
    sample_rate: int = 0  # 0: the model's own
    speed: float = 0.0  # 0: 1.0
    instructions: str = ""


@dataclass(frozen=True)
class SpeechRequest(VoiceSettings):
    text: str = ""


@dataclass(frozen=True)
class Plan:
    model: str
    voice: str
    settings: VoiceSettings

    def job(self, text: str) -> SynthesisJob:
        s = self.settings
        return SynthesisJob(
            text=text,
            voice=self.voice,
            language=s.language,
            speed=s.speed or 1.0,
            instructions=s.instructions,
        )


def plan(registry: ModelRegistry, default_model: str, settings: VoiceSettings) -> Plan:
    model = settings.model or default_model
    backend = registry.entry(model).backend
    voices = {v.name: v for v in backend.voices()}
    voice = settings.voice or next(iter(voices), "")  # a cloning model may have none yet
    if voice not in voices:
        raise NotFoundError(
            f"unknown voice {voice!r} for model {model!r}; available voices: " + ", ".join(voices),
            reason=Reason.VOICE_NOT_FOUND,
            field="voice",
        )
    _check_language(settings.language, voices[voice])
    if settings.speed and not MIN_SPEED <= settings.speed <= MAX_SPEED:
        raise InvalidRequestError(
            f"speed {settings.speed:g} is out of range; use {MIN_SPEED} to {MAX_SPEED}",
            reason=Reason.SPEED_OUT_OF_RANGE,
            field="speed",
        )
    rate = settings.sample_rate
    if rate and not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise InvalidRequestError(
            f"sample_rate {rate} is out of range; use 0 (the model's own) "
            f"or {MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE}",
            reason=Reason.SAMPLE_RATE_OUT_OF_RANGE,
            field="sample_rate",
        )
    if rate and settings.format in FIXED_RATE_FORMATS and rate not in STANDARD_SAMPLE_RATES:
        raise InvalidRequestError(
            f"sample_rate {rate} is not one {settings.format.value} can be encoded at; use 0 "
            f"(the model's own) or one of {', '.join(map(str, STANDARD_SAMPLE_RATES))}",
            reason=Reason.SAMPLE_RATE_OUT_OF_RANGE,
            field="sample_rate",
        )
    if settings.instructions and not backend.accepts_instructions:
        raise InvalidRequestError(
            f"model {model!r} does not accept instructions",
            reason=Reason.INSTRUCTIONS_NOT_SUPPORTED,
            field="instructions",
        )
    return Plan(model, voice, settings)


def check_text(text: str, max_chars: int) -> None:
    try:
        check_speakable(text, max_chars)
    except TextRejected as exc:
        raise text_error(exc) from None


def _check_language(language: str, voice: VoiceInfo) -> None:
    if not language or language.lower() == "auto":
        return
    wanted = language.lower().replace("-", "_")
    for have in voice.languages:
        have = have.lower().replace("-", "_")
        if wanted == have or have.startswith(wanted + "_") or wanted.startswith(have + "_"):
            return
    raise InvalidRequestError(
        f"voice {voice.name!r} does not speak {language!r}; its languages: "
        + ", ".join(voice.languages),
        reason=Reason.LANGUAGE_NOT_SUPPORTED,
        field="language",
    )
