"""The voices `describe` lists and `synthesize` chooses from: the model servers'
catalogue (the worker's `Catalog`), kept a few seconds so that `describe` answers
within Home Assistant's one-second timeout and a request costs no extra call. When
the catalogue cannot be read, the last good copy serves (and nothing is checked
before any copy exists). `first_read` waits (bounded) for the first copy, so that a
server started with its model servers lists the voices from its first `describe`."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass

from voice_worker.catalog.catalog import Catalog
from voice_worker.errors import VoiceError
from voice_worker.tts.base import ModelDescription, VoiceDescription

log = logging.getLogger(__name__)

#: how long a read of the catalogue is used, and how long a refresh may take
TTL_SECONDS = 10.0
REFRESH_TIMEOUT = 0.8
#: between two tries of `first_read`
FIRST_READ_PAUSE = 0.25
_LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}([-_][A-Za-z0-9]+)*$")


@dataclass(frozen=True)
class VoiceChoice:
    """What to ask CachedSpeech for: a voice name ("" = the default), its model (the
    model server looks a voice up in the model it is asked for, the default one unless
    told) and a language ("" = the voice's own)."""

    name: str = ""
    language: str = ""
    model: str = ""


def language_codes(languages: tuple[str, ...]) -> list[str]:
    """The codes among a voice's languages ("en_US", not "English")."""
    return [code for code in languages if _LANGUAGE_CODE.match(code)]


def speaks(voice: VoiceDescription, language: str) -> bool:
    """The model server's rule: "en" matches "en_US" and the other way round."""
    wanted = language.lower().replace("-", "_")
    for have in voice.languages:
        have = have.lower().replace("-", "_")
        if wanted == have or have.startswith(wanted + "_") or wanted.startswith(have + "_"):
            return True
    return False


@dataclass(frozen=True)
class Snapshot:
    voices: tuple[VoiceDescription, ...] = ()
    models: tuple[ModelDescription, ...] = ()
    read_at: float = 0.0


class VoiceDirectory:
    def __init__(self, catalog: Catalog, ttl: float = TTL_SECONDS) -> None:
        self.catalog = catalog
        self.ttl = ttl
        self._snapshot: Snapshot | None = None
        self._lock = asyncio.Lock()
        self._waiting = False  # in `first_read`: its failures are expected, not warned

    async def snapshot(self) -> Snapshot:
        """The catalogue, read again when older than `ttl` (the old copy on failure)."""
        current = self._snapshot
        if current is not None and time.monotonic() - current.read_at < self.ttl:
            return current
        async with self._lock:  # one refresh at a time; the others take its result
            if self._snapshot is not current:
                return self._snapshot or Snapshot()
            try:
                voices, models = await asyncio.wait_for(
                    asyncio.gather(self.catalog.voices(), self.catalog.models()),
                    REFRESH_TIMEOUT,
                )
            except (VoiceError, asyncio.TimeoutError) as exc:
                log.log(
                    logging.DEBUG if self._waiting else logging.WARNING,
                    "cannot read the voice catalogue; using the last copy",
                    extra={"error": exc.message if isinstance(exc, VoiceError) else "timed out"},
                )
                if current is not None:  # try again after a while, not on every request
                    self._snapshot = Snapshot(current.voices, current.models, time.monotonic())
                return self._snapshot or Snapshot()
            self._snapshot = Snapshot(tuple(voices), tuple(models), time.monotonic())
            return self._snapshot

    @property
    def read(self) -> bool:
        """Whether the catalogue has been read once."""
        return self._snapshot is not None

    async def first_read(self, timeout: float) -> Snapshot:
        """The catalogue, tried until it is read once or `timeout` seconds have passed
        (then the empty one: the model servers are down; later reads try again)."""
        deadline = time.monotonic() + timeout
        self._waiting = True
        try:
            while True:
                catalogue = await self.snapshot()
                if self.read or time.monotonic() + FIRST_READ_PAUSE >= deadline:
                    return catalogue
                await asyncio.sleep(FIRST_READ_PAUSE)
        finally:
            self._waiting = False

    async def choose(self, name: str, language: str, speaker: str) -> VoiceChoice:
        """The voice a request asks for by name (or by speaker: every speaker of a
        model is a voice here), else one that speaks its language, else the default,
        which is logged, as wyoming-piper does."""
        catalogue = await self.snapshot()
        voices = catalogue.voices
        if not voices:  # no catalogue: let the model server judge the name
            return VoiceChoice(name, language)
        default = next((m.name for m in catalogue.models if m.is_default), "")
        known: dict[str, VoiceDescription] = {}
        for voice in voices:  # a name two models share: the default model's
            if voice.name not in known or voice.model == default:
                known[voice.name] = voice
        aliases = {alias.lower() for alias in self.catalog.voice_aliases}
        for wanted in (name, speaker):
            if wanted in known:
                voice = known[wanted]
                spoken = language if language and speaks(voice, language) else ""
                return VoiceChoice(wanted, spoken, voice.model)
            if wanted and wanted.lower() in aliases:
                return VoiceChoice(wanted, "")
        if name:
            log.warning(
                "unknown voice; speaking with the default voice",
                extra={"voice": name, "voices": sorted(known)},
            )
            return VoiceChoice()
        if language:
            for voice in sorted(voices, key=lambda v: v.model != default):
                if speaks(voice, language):
                    return VoiceChoice(voice.name, language, voice.model)
            log.warning(
                "no voice speaks the language; speaking with the default voice",
                extra={"language": language},
            )
        return VoiceChoice()
