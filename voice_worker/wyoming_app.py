"""The Wyoming entry point, as app.py is HTTP's: `serve(settings)` builds the worker's
speech parts (`build_speech_components`: speech-to-text, the speech provider, the audio
cache; no chat, no store), serves them over Wyoming (voice_worker/wyoming) on
VOICE_WYOMING__URI until SIGTERM or SIGINT, then drains the connections. It listens
once the model servers' voice catalogue has been read (at most
VOICE_WYOMING__CATALOGUE_WAIT_SECONDS): started with them (a compose file, a pod),
its first `describe` lists their voices, not none."""

from __future__ import annotations

import asyncio
import logging
import signal
from contextlib import AsyncExitStack
from urllib.parse import urlparse

from voice_worker.components import build_speech_components
from voice_worker.settings import Settings
from voice_worker.wyoming.handler import Services
from voice_worker.wyoming.server import WyomingServer, announcement
from voice_worker.wyoming.tts import PcmSpeech
from voice_worker.wyoming.voices import VoiceDirectory

log = logging.getLogger(__name__)


async def serve(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    wyoming = settings.wyoming
    async with AsyncExitStack() as stack:
        parts = await build_speech_components(settings, stack)
        services = Services(
            stt=parts.stt,
            transcriber=parts.transcriber,
            speech=PcmSpeech(parts.speech, wyoming.sample_rate),
            voices=VoiceDirectory(parts.catalog),
            samples_per_chunk=wyoming.samples_per_chunk,
        )
        # the first describe lists the voices (and is quick): read them before listening
        catalogue = await services.voices.first_read(wyoming.catalogue_wait_seconds)
        if not services.voices.read:
            log.warning(
                "no voice catalogue yet; listening anyway (read again on each describe)",
                extra={"waited_seconds": wyoming.catalogue_wait_seconds},
            )
        server = WyomingServer(wyoming.uri, services)
        await server.start()
        async with announcement(
            wyoming, server.port if urlparse(wyoming.uri).scheme == "tcp" else 0
        ):
            log.info(
                "wyoming server ready",
                extra={
                    "uri": wyoming.uri,
                    "port": server.port if server.uri.scheme == "tcp" else None,
                    "stt": parts.stt.name,
                    "tts": parts.tts.name,
                    "voices": len(catalogue.voices),
                },
            )
            await stop.wait()
        log.info("wyoming server stopping")
        await server.drain(wyoming.shutdown_grace_seconds)
    log.info("wyoming server stopped")
