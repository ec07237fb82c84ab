"""Text as it is written in, speech out, whatever the provider: `speak_text`.

A provider that `StreamsText` (the model server) gets the text as it comes; any other
is given one sentence at a time as soon as its end is certain (shared.text.
SentenceBuffer). A format the provider cannot produce is asked for as PCM and encoded
here, into one valid file, the sentence marks kept."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import replace

from shared.audio.formats import AudioFormat
from shared.speakable import has_speakable
from shared.text import FIRST_CLAUSE_WORDS, SentenceBuffer
from voice_worker.tts.base import SpeechOptions, SpeechPiece, StreamsText, TTSProvider
from voice_worker.tts.transcode import PCM_RATE, encode_pieces


def speak_text(
    provider: TTSProvider,
    texts: AsyncIterator[str],
    options: SpeechOptions,
    bit_rates: Mapping[AudioFormat, int] | None = None,
) -> AsyncGenerator[SpeechPiece, None]:
    native = options.format in provider.native_formats
    if isinstance(provider, StreamsText) and native:
        return provider.stream_text(texts, options)
    rate = options.sample_rate or PCM_RATE
    pcm = replace(options, format=AudioFormat.PCM, sample_rate=rate)
    if isinstance(provider, StreamsText):
        pieces = provider.stream_text(texts, pcm)
    else:
        pieces = by_sentence(provider, texts, pcm)
    if options.format is AudioFormat.PCM:
        return pieces
    bit_rate = (bit_rates or {}).get(options.format, 0)
    return encode_pieces(pieces, rate, options.format, bit_rate=bit_rate)


async def by_sentence(
    provider: TTSProvider, texts: AsyncIterator[str], pcm: SpeechOptions
) -> AsyncGenerator[SpeechPiece, None]:
    """Each sentence through `provider.stream` as soon as it is complete (PCM)."""
    words = FIRST_CLAUSE_WORDS if pcm.first_clause else 0
    buffer, seconds = SentenceBuffer(first_clause_words=words), 0.0

    async def sentences() -> AsyncIterator[str]:
        async for text in texts:
            for sentence in buffer.feed(text):
                yield sentence
        for sentence in buffer.close():
            yield sentence

    async for sentence in sentences():
        if not has_speakable(sentence):
            continue
        mark = sentence
        async for audio in provider.stream(sentence, pcm):
            yield SpeechPiece(audio, mark, seconds if mark else 0.0)
            mark = ""
            seconds += len(audio) / 2 / pcm.sample_rate
        yield SpeechPiece(b"", sentence_end=True)
