"""Schemathesis hooks (SCHEMATHESIS_HOOKS=tests.contract.hooks): what the worker's
OpenAPI document says in words that a fuzzer needs as data. A multipart part of type
`audio/*` gets real audio (a short tone, encoded in each format the worker reads), and
a string of format `speakable-text` is plain text with a letter or a digit in it, and
an SDP offer (`application/sdp`, format `sdp-offer`) is a WebRTC client's real offer
(aiortc's: audio and the data channel), which the worker answers."""

from __future__ import annotations

import asyncio

import numpy as np
import schemathesis
from hypothesis import strategies as st

from shared.audio.encoding import encode
from shared.audio.formats import AudioFormat
from shared.speakable import SPEAKABLE_FORMAT

RATE = 16_000


def _tone(seconds: float, fmt: AudioFormat) -> bytes:
    t = np.arange(int(RATE * seconds), dtype=np.float32) / RATE
    return encode((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), RATE, fmt)


for media_type, fmt in (
    ("audio/wav", AudioFormat.WAV),
    ("audio/flac", AudioFormat.FLAC),
    ("audio/mpeg", AudioFormat.MP3),
):
    samples = [_tone(seconds, fmt) for seconds in (0.5, 1.2)]
    schemathesis.openapi.media_type(media_type, st.sampled_from(samples))

_plain = st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=20)
_said = st.characters(categories=("L", "N"))
schemathesis.openapi.format(
    SPEAKABLE_FORMAT, st.tuples(_plain, _said, _plain).map(lambda parts: "".join(parts))
)


async def _offer() -> str:
    from aiortc import RTCConfiguration, RTCPeerConnection
    from aiortc.mediastreams import AudioStreamTrack

    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.createDataChannel("oai-events")
    pc.addTrack(AudioStreamTrack())
    await pc.setLocalDescription(await pc.createOffer())
    sdp: str = pc.localDescription.sdp
    await pc.close()
    return sdp


_offers = [asyncio.run(_offer()) for _ in range(2)]
schemathesis.openapi.media_type("application/sdp", st.sampled_from([o.encode() for o in _offers]))
schemathesis.openapi.format("sdp-offer", st.sampled_from(_offers))
