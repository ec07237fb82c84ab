"""One WebRTC call, start to end: the SDP answer to the client's offer, the session
(realtime/connection.py's, as a WebSocket gets it) once the data channel `oai-events`
opens, the microphone track into the input buffer, the reply out on the outgoing track.

Events go as JSON on the channel, in the GA names; audio deltas do not (OpenAI's WebRTC
sends none): the outbox hands them to the reply track instead, at the pace it plays
(`LEAD_SECONDS` ahead), so the audio counted as sent, which a cancelled reply is stored
as far as, is what the caller heard; the events after a delta wait with it (the
transcript keeps pace with the voice). A cancelled response (`response.cancel`,
barge-in) also clears what the track has not played. The call ends on `end()` (DELETE,
hang-up), when ICE fails or the peer closes, when it has not connected within
`webrtc_connect_seconds`, or after `webrtc_idle_seconds` without an event or voice from
the client and without a reply playing; then the session closes (a response in progress
stores nothing half, as when a WebSocket closes) and the peer connection with it."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from aiortc import RTCDataChannel, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack
from openai.types.realtime import (
    ResponseAudioDeltaEvent,
    ResponseDoneEvent,
    SessionCreatedEvent,
)
from pydantic import BaseModel

from voice_worker.errors import InvalidRequest, VoiceError
from voice_worker.realtime import events as ev
from voice_worker.realtime.audio import voiced_span
from voice_worker.realtime.connection import Opening, handle_text, new_session, open_record
from voice_worker.realtime.errors import error_event
from voice_worker.realtime.ids import new_id
from voice_worker.realtime.outbox import Outbox
from voice_worker.realtime.services import RealtimeServices
from voice_worker.realtime.session import RealtimeSession
from voice_worker.realtime.webrtc.ice import configuration, install
from voice_worker.realtime.webrtc.tracks import ReplyTrack, microphone

log = logging.getLogger(__name__)
CHANNEL = "oai-events"
AUDIO = "\x00"  # an outbox entry that is reply audio (base64 pcm16 24 kHz), not an event
#: how far the reply's audio is handed to the track ahead of its playing
LEAD_SECONDS = 0.3


class Call:
    def __init__(
        self, services: RealtimeServices, opening: Opening, forget: Callable[[str], object]
    ) -> None:
        install(services.settings)
        self.id = new_id("rtc")
        self.forget = forget  # the registry's: this call has ended
        self.services, self.opening = services, opening
        self.pc = RTCPeerConnection(configuration(services.settings))
        self.reply = ReplyTrack()
        self.outbox = Outbox(self._encode, services.settings.max_queued_bytes)
        self.session: RealtimeSession | None = None
        self.channel: RTCDataChannel | None = None
        self.inbox: asyncio.Queue[str] = asyncio.Queue()
        self.tasks: set[asyncio.Task[Any]] = set()
        self.ended = asyncio.Event()
        self.connected = asyncio.Event()
        self.last_heard = time.monotonic()
        self._stack = contextlib.ExitStack()
        self._closed = False
        self._ending: asyncio.Task[None] | None = None

    @property
    def owner(self) -> str:
        return self.opening.principal.user

    # the answer ------------------------------------------------------------------
    async def answer(self, offer: str, initial: Sequence[BaseModel] = ()) -> str:
        """The SDP answer to `offer`; InvalidRequest naming what is wrong with it.
        `initial`: session.update events (a client secret's, the form's), applied in turn."""
        record = await open_record(self.services, self.opening)
        if record is not None:
            self._stack.enter_context(self.services.claims.claim(record.id))
        self.session = new_session(self.services, self.opening, self.outbox, record)
        self.outbox.put(ev.event(SessionCreatedEvent, session=self.session.session_object()))
        for update in initial:  # session.updated follows each
            await self.session.handle(update)  # type: ignore[arg-type]
        self.pc.on("datachannel", self._on_channel)
        self.pc.on("track", self._on_track)
        self.pc.on("connectionstatechange", self._on_state)
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
            audio = [t for t in self.pc.getTransceivers() if t.kind == "audio"]
            if audio:
                audio[0].sender.replaceTrack(self.reply)
                audio[0].direction = "sendrecv"
            answer = await self.pc.createAnswer()
        except Exception as exc:  # aiortc's parser: the offer's fault, whatever it raises
            reason = str(exc) or type(exc).__name__
            raise InvalidRequest(f"sdp: not a usable offer ({reason})", param="sdp") from None
        if not audio:
            raise InvalidRequest("sdp: the offer has no audio (m=audio)", param="sdp")
        await self.pc.setLocalDescription(answer)
        self._spawn(self._watch())
        self._spawn(self._overflow())
        return self.pc.localDescription.sdp

    # the peer's events -------------------------------------------------------------
    def _on_channel(self, channel: RTCDataChannel) -> None:
        if channel.label != CHANNEL or self.channel is not None or self.session is None:
            return
        self.channel = channel
        channel.on("message", self._on_message)
        self._spawn(self.outbox.run(self._send))
        self._spawn(self._read())

    def _on_message(self, message: object) -> None:
        self.last_heard = time.monotonic()
        if isinstance(message, str):
            self.inbox.put_nowait(message)
        else:
            error = InvalidRequest("send events as text (JSON)", code="invalid_json")
            self.outbox.put(error_event(error))

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio":
            self._spawn(self._listen(track))

    async def _on_state(self) -> None:
        state = self.pc.connectionState
        if state == "connected":
            self.connected.set()
        elif state in ("failed", "closed"):
            self.ended.set()

    # running ------------------------------------------------------------------------
    def _spawn(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _read(self) -> None:
        assert self.session is not None
        while True:
            text = await self.inbox.get()
            await handle_text(text, self.session, self.outbox, "ga")

    async def _listen(self, track: MediaStreamTrack) -> None:
        """The track into the input buffer; an append refused (a full buffer, in push to
        talk between turns) is one error event until one goes in again, not one a frame."""
        assert self.session is not None
        refusing = False
        async for pcm in microphone(track):
            if voiced_span(pcm) is not None:  # a voice, not a muted microphone
                self.last_heard = time.monotonic()
            try:
                await self.session.append(pcm)
                refusing = False
            except VoiceError as exc:
                if not refusing:
                    self.outbox.put(error_event(exc))
                refusing = True

    def _encode(self, event: BaseModel) -> str | None:
        if isinstance(event, ResponseAudioDeltaEvent):
            return AUDIO + event.delta
        if isinstance(event, ResponseDoneEvent) and event.response.status == "cancelled":
            self.reply.clear()
        return event.model_dump_json(exclude_unset=True)

    async def _send(self, text: str) -> None:
        if text.startswith(AUDIO):
            await self.reply.room(LEAD_SECONDS)
            self.reply.play(base64.b64decode(text[1:]))
        elif self.channel is not None and self.channel.readyState == "open":
            self.channel.send(text)

    async def _watch(self) -> None:
        """End the call when it does not connect, fails, or idles."""
        s = self.services.settings
        try:
            await asyncio.wait_for(self.connected.wait(), s.webrtc_connect_seconds)
        except TimeoutError:
            log.info("webrtc call never connected", extra={"call_id": self.id})
            self.ended.set()
        while not self.ended.is_set():
            idle = time.monotonic() - max(self.last_heard, self.reply.last_played)
            if idle >= s.webrtc_idle_seconds:
                log.info("webrtc call idle", extra={"call_id": self.id})
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.ended.wait(), s.webrtc_idle_seconds - idle)
        self._spawn_end()

    async def _overflow(self) -> None:
        await self.outbox.overflowed.wait()
        log.warning("webrtc call ended: its events queued past the limit")
        self.ended.set()

    def _spawn_end(self) -> None:
        self._ending = asyncio.get_running_loop().create_task(self.end())  # kept: not collected

    async def end(self) -> None:
        """Hang up: the session closes, then the peer connection."""
        if self._closed:
            return
        self._closed = True
        self.ended.set()
        current = asyncio.current_task()
        tasks = [t for t in self.tasks if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.session is not None:
            await self.session.close()
        self.reply.stop()
        try:
            await self.pc.close()
        except Exception:  # aiortc, half-built by an offer it refused, can fail to close
            log.warning("webrtc call: the peer connection did not close cleanly", exc_info=True)
        self._stack.close()
        self.forget(self.id)
        log.info("webrtc call ended", extra={"call_id": self.id})
