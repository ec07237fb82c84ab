"""One Wyoming connection: each event goes through one table (`routes`: event type ->
method) to `describe`, the ASR program or the TTS program; answers and `error` events
go back. Reading uses the `wyoming` package's framing; what it cannot read (a header
that is not an event, a payload longer than its header said, so that the next header
is garbage) closes the connection with a log line and, while the socket still takes
it, an `error` event. Nothing a client sends stops the server: every failure ends at
most this connection."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from wyoming.error import Error
from wyoming.event import Event, async_write_event
from wyoming.ping import Pong
from wyoming.server import AsyncEventHandler

from shared.logs import new_request_id, request_id_var
from voice_worker.errors import InvalidRequest, VoiceError
from voice_worker.stt.base import STTProvider
from voice_worker.transcription.transcriber import Transcriber
from voice_worker.wyoming.asr import Transcription
from voice_worker.wyoming.errors import error_event, internal_error_event
from voice_worker.wyoming.framing import BoundedReader, EventTooLarge, read_event
from voice_worker.wyoming.info import describe
from voice_worker.wyoming.tts import PcmSpeech, Synthesis
from voice_worker.wyoming.voices import VoiceDirectory

log = logging.getLogger(__name__)

Route = Callable[[Mapping[str, Any], "bytes | None"], Awaitable[None]]
#: events that begin a request: each gets a request ID for the logs
_REQUESTS = frozenset({"transcribe", "audio-start", "synthesize", "synthesize-start"})


@dataclass(frozen=True)
class Services:
    """What every connection shares: the worker's domain objects, adapted."""

    stt: STTProvider
    transcriber: Transcriber
    speech: PcmSpeech
    voices: VoiceDirectory
    samples_per_chunk: int


class WyomingHandler(AsyncEventHandler):
    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, services: Services
    ) -> None:
        super().__init__(reader, writer)
        self.services = services
        self.events = BoundedReader(reader, services.transcriber.max_bytes)
        self.connection = new_request_id()
        self.closing = False  # the server is stopping: leave once idle
        self._handling = False
        self._write_lock = asyncio.Lock()
        self.asr = Transcription(services.transcriber, self.write_event)
        self.tts = Synthesis(
            services.speech,
            services.voices,
            self.write_event,
            self._report,
            services.samples_per_chunk,
        )
        self.routes: dict[str, Route] = {
            "describe": self._describe,
            "ping": self._ping,
            "select-program": self._select_program,
            "transcribe": self._transcribe,
            "audio-start": self._audio_start,
            "audio-chunk": self._audio_chunk,
            "audio-stop": self._audio_stop,
            "synthesize": self._synthesize,
            "synthesize-start": self._synthesize_start,
            "synthesize-chunk": self._synthesize_chunk,
            "synthesize-stop": self._synthesize_stop,
        }

    @property
    def idle(self) -> bool:
        """No request in progress (the server may close the connection)."""
        return not self._handling and self.asr.idle and self.tts.idle

    async def write_event(self, event: Event) -> None:
        """One event at a time: the stream's speaker task writes beside the reader."""
        async with self._write_lock:
            await async_write_event(event, self.writer)

    async def run(self) -> None:
        self._is_running = True
        token = request_id_var.set(self.connection)
        log.debug(
            "wyoming client connected", extra={"peer": self.writer.get_extra_info("peername")}
        )
        try:
            while self._is_running:
                try:
                    event = await read_event(self.events)
                except (asyncio.IncompleteReadError, ConnectionError):
                    log.info("wyoming client left in the middle of an event")
                    break
                except EventTooLarge as exc:
                    await self._refuse(str(exc))
                    break
                except Exception as exc:  # JSON, but not an event header
                    await self._refuse(f"not a Wyoming event ({type(exc).__name__}: {exc})")
                    break
                if event is None:
                    if not self.events.at_eof():
                        await self._refuse(
                            "an event header that is not JSON (or the bytes after a payload "
                            "longer than its header said)"
                        )
                    elif not self.idle:
                        log.info("wyoming client left in the middle of a request")
                    break
                if not await self.handle_event(event) or (self.closing and self.idle):
                    break
        finally:
            await self.disconnect()
            self.writer.close()
            request_id_var.reset(token)

    async def handle_event(self, event: Event) -> bool:
        route = self.routes.get(event.type)
        data = event.data if isinstance(event.data, dict) else {}
        if event.type in _REQUESTS:
            request_id_var.set(new_request_id())
        self._handling = True
        try:
            try:
                if route is None:
                    raise InvalidRequest(
                        f"unknown event type {event.type!r}: this server answers describe, "
                        "transcribe and synthesize",
                        code="unknown_event",
                    )
                await route(data, event.payload)
            except VoiceError as exc:
                await self.write_event(error_event(exc))
        except ConnectionError:
            log.info("wyoming client left in the middle of a request", extra={"event": event.type})
            return False
        except Exception:
            log.exception("wyoming event failed", extra={"event": event.type})
            await self._send_quietly(internal_error_event(self.connection))
            return False
        finally:
            self._handling = False
        return True

    async def disconnect(self) -> None:
        await self.tts.close()

    async def _report(self, exc: Exception) -> None:
        """An error of the stream's speaker task, told on this connection."""
        if isinstance(exc, VoiceError):
            await self._send_quietly(error_event(exc))
        else:
            log.error("wyoming speech stream failed", exc_info=exc)
            await self._send_quietly(internal_error_event(self.connection))

    async def _refuse(self, reason: str) -> None:
        log.warning("closing a wyoming connection", extra={"reason": reason})
        await self._send_quietly(Error(text=reason, code="bad_event").event())

    async def _send_quietly(self, event: Event) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.write_event(event)

    # the routes -------------------------------------------------------------

    async def _describe(self, data: Mapping[str, Any], payload: bytes | None) -> None:
        info = describe(self.services.stt, await self.services.voices.snapshot())
        await self.write_event(info.event())

    async def _ping(self, data: Mapping[str, Any], payload: bytes | None) -> None:
        text = data.get("text")
        await self.write_event(Pong(text=text if isinstance(text, str) else None).event())

    async def _select_program(self, data: Mapping[str, Any], payload: bytes | None) -> None:
        log.debug(
            "select-program: one program per domain here", extra={"program": data.get("name")}
        )

    async def _transcribe(self, data: Mapping[str, Any], payload: bytes | None) -> None:
        self.asr.transcribe(data)

    async def _audio_start(self, data: Mapping[str, Any], payload: bytes | None) -> None:
        self.asr.start(data)

    async def _audio_chunk(self, data: Mapping[str, Any], payload: bytes | None) -> None:
        self.asr.chunk(data, payload)

    async def _audio_stop(self, data: Mapping[str, Any], payload: bytes | None) -> None:
        start = time.perf_counter()
        await self.asr.stop()
        log.info("wyoming transcription", extra={"ms": round((time.perf_counter() - start) * 1000)})

    async def _synthesize(self, data: Mapping[str, Any], payload: bytes | None) -> None:
        start = time.perf_counter()
        if await self.tts.synthesize(data):
            log.info("wyoming synthesis", extra={"ms": round((time.perf_counter() - start) * 1000)})

    async def _synthesize_start(self, data: Mapping[str, Any], payload: bytes | None) -> None:
        await self.tts.start(data)

    async def _synthesize_chunk(self, data: Mapping[str, Any], payload: bytes | None) -> None:
        self.tts.chunk(data)

    async def _synthesize_stop(self, data: Mapping[str, Any], payload: bytes | None) -> None:
        await self.tts.stop()
