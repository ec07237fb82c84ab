"""Helpers shared by the fleet tests: a FleetTTS over given targets, tagged requests,
and where each one was served."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Sequence

from harness.fleet_servers import ServerSlot
from shared.audio.formats import AudioFormat
from shared.logs import request_id_var
from voice_worker.tts.base import SpeechOptions
from voice_worker.tts.fleet.discovery import Resolver, system_resolver
from voice_worker.tts.fleet.provider import FleetTTS
from voice_worker.tts.settings import FleetSettings, TTSSettings

REFRESH_SECONDS = 0.3
SENTENCES = "The quick brown fox jumps over the lazy dog. It was a bright cold day in April."


@contextlib.asynccontextmanager
async def open_fleet(
    targets: Sequence[str],
    resolver: Resolver = system_resolver,
    max_retries: int = 2,
) -> AsyncIterator[FleetTTS]:
    settings = TTSSettings(
        model_servers=list(targets),
        max_retries=max_retries,
        timeout_seconds=60,
        fleet=FleetSettings(refresh_seconds=REFRESH_SECONDS, resolve_seconds=0.2),
    )
    tts = FleetTTS.from_settings(settings, resolver)
    try:
        await tts.fleet.ready(timeout=10)
        yield tts
    finally:
        await tts.close()


async def speak(
    tts: FleetTTS, request_id: str, model: str = "", text: str = SENTENCES, stream: bool = True
) -> bytes:
    """One synthesis tagged with `request_id` (the model servers log it)."""
    request_id_var.set(request_id)
    options = SpeechOptions(model=model, format=AudioFormat.WAV)
    if not stream:
        return (await tts.synthesize(text, options)).audio
    return b"".join([chunk async for chunk in tts.stream(text, options)])


def where_served(
    slots: Sequence[ServerSlot], request_ids: Sequence[str], timeout: float = 10
) -> dict[str, list[str]]:
    """Request ID -> the addresses whose logs say they served it (the line is written as
    the reply ends, so wait a little for the last ones)."""
    deadline = time.monotonic() + timeout
    while True:
        served = {slot.address: slot.served() for slot in slots}
        found = {rid: [a for a, ids in served.items() if rid in ids] for rid in request_ids}
        if all(found.values()) or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


async def until(condition: Callable[[], bool], timeout: float = 20, what: str = "") -> None:
    """Wait (bounded) until `condition()` holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        await asyncio.sleep(0.05)
