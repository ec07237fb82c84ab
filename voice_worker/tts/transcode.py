"""Formats a provider cannot produce itself (AAC from the model server, FLAC or WAV
from ElevenLabs): ask it for raw PCM (s16le mono) and encode here with PyAV."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import replace

import numpy as np

from shared.audio.encoding import StreamEncoder
from shared.audio.formats import AudioFormat
from voice_worker.tts.base import SpeechOptions, SpeechPiece, TTSProvider

PCM_RATE = 24_000  # what we ask for when the request names no rate (OpenAI's pcm rate)


async def encode_pieces(
    pieces: AsyncIterator[SpeechPiece],
    input_rate: int,
    fmt: AudioFormat,
    output_rate: int = 0,
    bit_rate: int = 0,
) -> AsyncGenerator[SpeechPiece, None]:
    """s16le mono pieces (any boundaries) in, `fmt` pieces out (one valid file), the
    sentence marks kept. The encoding (PyAV) runs on a thread, one block at a time and
    in order, so the event loop serves other requests meanwhile."""
    encoder = await asyncio.to_thread(
        StreamEncoder, fmt, input_rate, output_rate, bit_rate=bit_rate
    )
    carry = b""
    async for piece in pieces:
        data = carry + piece.audio
        usable = len(data) - len(data) % 2
        carry = data[usable:]
        out = await asyncio.to_thread(_encode_block, encoder, data[:usable]) if usable else b""
        if out or piece.text or piece.sentence_end:
            yield SpeechPiece(out, piece.text, piece.text_start, piece.sentence_end)
    if tail := await asyncio.to_thread(encoder.close):
        yield SpeechPiece(tail)


def _encode_block(encoder: StreamEncoder, pcm: bytes) -> bytes:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
    return encoder.write(samples)


async def encode_pcm_stream(
    pcm: AsyncIterator[bytes],
    input_rate: int,
    fmt: AudioFormat,
    output_rate: int = 0,
    bit_rate: int = 0,
) -> AsyncIterator[bytes]:
    """s16le mono chunks (any boundaries) in, `fmt` chunks out (one valid file)."""

    async def pieces() -> AsyncIterator[SpeechPiece]:
        async for chunk in pcm:
            yield SpeechPiece(chunk)

    async for piece in encode_pieces(pieces(), input_rate, fmt, output_rate, bit_rate):
        yield piece.audio


def stream_any_format(
    provider: TTSProvider,
    text: str,
    options: SpeechOptions,
    bit_rates: Mapping[AudioFormat, int] | None = None,
) -> AsyncIterator[bytes]:
    """`provider.stream`, encoding here when the provider lacks `options.format`."""
    if options.format in provider.native_formats:
        return provider.stream(text, options)
    rate = options.sample_rate or PCM_RATE
    pcm_options = replace(options, format=AudioFormat.PCM, sample_rate=rate)
    bit_rate = (bit_rates or {}).get(options.format, 0)
    return encode_pcm_stream(provider.stream(text, pcm_options), rate, options.format, 0, bit_rate)


def fix_wav_sizes(data: bytes) -> bytes:
    """A streamed WAV carries 0xFFFFFFFF sizes; once whole, write the real ones."""
    if len(data) >= 44 and data[:4] == b"RIFF" and data[36:40] == b"data":
        body = len(data) - 44
        return (
            data[:4]
            + (36 + body).to_bytes(4, "little")
            + data[8:40]
            + body.to_bytes(4, "little")
            + data[44:]
        )
    return data
