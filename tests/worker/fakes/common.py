"""What the fakes share: a switch for the failure to play, and real audio to return."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from shared.audio.encoding import encode
from shared.audio.formats import AudioFormat

MODES = ("ok", "401", "429", "500", "503", "timeout")


@dataclass
class Behavior:
    """Set `mode` from a test to make the next calls fail the way it names."""

    api_key: str = "test-key"
    mode: str = "ok"
    delay_seconds: float = 5.0  # how long "timeout" stalls (longer than the client waits)
    transcript: str = "And so my fellow Americans, ask not what your country can do for you."
    calls: list[dict[str, object]] = field(default_factory=list)

    async def stall(self) -> None:
        await asyncio.sleep(self.delay_seconds)


def tone(seconds: float, rate: int) -> npt.NDArray[np.float32]:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def audio_bytes(fmt: AudioFormat, rate: int, seconds: float = 1.0) -> bytes:
    samples = tone(seconds, rate)
    if fmt is AudioFormat.PCM:
        return bytes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return encode(samples, rate, fmt)
