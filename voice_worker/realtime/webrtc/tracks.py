"""The call's audio: the reply as an outgoing track, the microphone as pcm16 24 kHz.

`ReplyTrack` plays what `play` gives it (the response's pcm16 at 24 kHz, resampled to
48 kHz as Opus wants) in 20 ms frames at real-time pace, silence when there is nothing;
`clear` drops what has not played (a cancelled response, barge-in), so the caller stops
hearing it within a frame; `room` lets the sender wait until little is left to play.
`microphone` reads an incoming track (aiortc's Opus decoder: 48 kHz) as pcm16 mono at
24 kHz, the protocol's audio inside."""

from __future__ import annotations

import asyncio
import fractions
import time
from collections.abc import AsyncIterator

import av
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from voice_worker.realtime.audio import RATE

TRACK_RATE = 48_000
FRAME_SAMPLES = TRACK_RATE // 50  # 20 ms


def _resampler(rate: int) -> av.AudioResampler:
    return av.AudioResampler(format="s16", layout="mono", rate=rate)


def _pcm(frames: list[av.AudioFrame]) -> bytes:
    return b"".join(f.to_ndarray().astype("<i2").tobytes() for f in frames)


class ReplyTrack(MediaStreamTrack):
    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._queued = bytearray()  # pcm16 at 48 kHz, not yet played
        self._upsampler = _resampler(TRACK_RATE)
        self._start: float | None = None
        self._pts = 0
        self.played_seconds = 0.0  # of reply audio (not of silence)
        self.last_played = 0.0  # when reply audio last went out (time.monotonic)
        self._played = asyncio.Event()  # a frame went out

    def play(self, pcm: bytes) -> None:
        """pcm16 mono at 24 kHz, after what is queued."""
        frame = av.AudioFrame.from_ndarray(
            np.frombuffer(pcm, "<i2").reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = RATE
        self._queued += _pcm(self._upsampler.resample(frame))

    def clear(self) -> None:
        self._queued.clear()
        self._upsampler = _resampler(TRACK_RATE)

    @property
    def queued_seconds(self) -> float:
        return len(self._queued) / 2 / TRACK_RATE

    async def room(self, lead: float) -> None:
        """Wait until less than `lead` seconds are left to play."""
        while self.queued_seconds >= lead and self.readyState == "live":
            self._played.clear()
            await self._played.wait()

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        wait = self._start + self._pts / TRACK_RATE - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        size = FRAME_SAMPLES * 2
        chunk = bytes(self._queued[:size])
        del self._queued[:size]
        if chunk:
            self.played_seconds += len(chunk) / 2 / TRACK_RATE
            self.last_played = time.monotonic()
        samples = np.zeros(FRAME_SAMPLES, dtype="<i2")
        samples[: len(chunk) // 2] = np.frombuffer(chunk, "<i2")
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = TRACK_RATE
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, TRACK_RATE)
        self._pts += FRAME_SAMPLES
        self._played.set()
        return frame


async def microphone(track: MediaStreamTrack) -> AsyncIterator[bytes]:
    """The track's audio as pcm16 mono at 24 kHz, until it ends."""
    downsampler = _resampler(RATE)
    while True:
        try:
            frame = await track.recv()
        except MediaStreamError:
            return
        assert isinstance(frame, av.AudioFrame)
        pcm = _pcm(downsampler.resample(frame))
        if pcm:
            yield pcm
