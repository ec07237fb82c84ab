"""`SpeechChoices`: the voices, models, languages and instructions a request may name,
read from the speech provider's catalogue at start-up. The worker checks requests
against them (a 400 naming the field, before any synthesis) and its OpenAPI document
lists the same values as enums, so that what the document allows is what the worker
accepts. A provider without a catalogue (the cloud ones) has none: any name goes to
the provider, which judges it.

OpenAI's voice and model names (and VOICE_TTS__VOICE_MAP's) are always accepted:
they map to the engine's own. A language is one a voice speaks, as the catalogue
writes it, its language part alone (`en` of `en_US`), with `-` for `_`, or `auto`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from voice_worker.catalog.catalog import Catalog
from voice_worker.catalog.openai_names import OPENAI_TTS_MODELS, OPENAI_VOICES
from voice_worker.errors import InvalidRequest

log = logging.getLogger(__name__)
#: backends whose models take a style prompt (`instructions`)
INSTRUCTED_BACKENDS = frozenset({"qwen3"})
LOAD_TIMEOUT = 10.0


@dataclass(frozen=True)
class SpeechChoices:
    voices: tuple[str, ...]
    models: tuple[str, ...]
    languages: tuple[str, ...]
    instructions: bool  # whether any model takes them

    def check(self, voice: str, model: str, language: str = "", instructions: str = "") -> None:
        """InvalidRequest naming the first field whose value is not offered."""
        for param, value, allowed in (
            ("voice", voice, self.voices),
            ("model", model, self.models),
            ("language", language, self.languages),
        ):
            if value not in allowed:
                shown = ", ".join(repr(v) for v in allowed if v)
                raise InvalidRequest(
                    f"unknown {param} {value!r}; available: {shown}",
                    param=param,
                    code=f"{param}_not_found",
                )
        if instructions and not self.instructions:
            raise InvalidRequest(
                "no model here takes instructions; send none",
                param="instructions",
                code="instructions_not_supported",
            )


def language_forms(tag: str) -> set[str]:
    forms = {tag, tag.replace("_", "-")}
    if "_" in tag or "-" in tag:
        forms.add(tag.replace("-", "_").split("_", 1)[0])
    return forms


async def load_choices(catalog: Catalog, voice_map: Mapping[str, str]) -> SpeechChoices | None:
    """The choices of `catalog`'s provider; None without a complete catalogue (voices and
    models), or when it did not answer at start-up: then requests go to the provider
    unchecked."""
    if not catalog.complete:
        return None
    try:
        voices, models = await asyncio.wait_for(
            asyncio.gather(catalog.voices(), catalog.models()), LOAD_TIMEOUT
        )
    except Exception as exc:
        log.warning("speech catalogue unavailable; names unchecked", extra={"error": str(exc)})
        return None
    languages = {"", "auto"}
    for voice in voices:
        for tag in voice.languages:
            languages |= language_forms(tag)
    return SpeechChoices(
        voices=tuple(sorted({"", *OPENAI_VOICES, *voice_map, *(v.name for v in voices)})),
        models=tuple(sorted({"", *OPENAI_TTS_MODELS, *(m.name for m in models)})),
        languages=tuple(sorted(languages)),
        instructions=any(m.backend in INSTRUCTED_BACKENDS for m in models),
    )
