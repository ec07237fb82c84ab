"""The model server's domain: check a speech request (model_server.planning), admit it
(a bound on requests in flight), run it on the right model, encode the audio.
Transport-free: the gRPC servicer is a thin adapter over `Synthesizer`; errors are
model_server.errors.

A unary request submits every sentence to the model's batcher at once, so sentences of
one request and of concurrent requests share batches (Qwen3) or cores (Piper). The two
streaming calls share one pipeline (model_server.sentences): text, whole or in pieces,
becomes sentences as soon as their end is certain, each synthesized as soon as it is
known (one sentence of lookahead, the first one urgent), and the audio goes out as one
valid file."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from model_server import metrics
from model_server.backends.base import TTSBackend, VoiceCloner, VoiceInfo
from model_server.batching import ModelRunner
from model_server.errors import InvalidRequestError, OverloadedError
from model_server.planning import Plan, SpeechRequest, VoiceSettings, check_text, plan
from model_server.registry import ModelRegistry
from model_server.sentences import SentenceEnd, SentenceStart, sentence_audio
from shared.audio.decoding import AudioDecodeError
from shared.audio.decoding import decode as decode_audio
from shared.audio.encoding import StreamEncoder, encode
from shared.audio.formats import AudioFormat
from shared.limits import MAX_TEXT_CHARS
from shared.speakable import find_invalid_character
from shared.text import split_sentences
from voice_contract.reasons import Reason

log = logging.getLogger(__name__)
MIN_REFERENCE_SECONDS, MAX_REFERENCE_SECONDS = 1.0, 30.0  # RegisterVoice clips

__all__ = ["Speech", "SpeechChunk", "SpeechRequest", "Synthesizer", "VoiceSettings"]


@dataclass(frozen=True)
class Speech:
    audio: bytes
    format: AudioFormat
    sample_rate: int
    duration: float
    model: str
    voice: str


@dataclass(frozen=True)
class SpeechChunk:
    audio: bytes
    sequence: int
    format: AudioFormat
    sample_rate: int
    duration: float  # audio covered so far
    final: bool
    model: str
    voice: str
    text: str = ""  # the sentence whose audio starts in this chunk
    text_start: float = 0.0  # where it starts, in seconds of audio
    sentence_end: bool = False  # the sentence's audio is all out (pcm, wav)


class Synthesizer:
    def __init__(
        self,
        registry: ModelRegistry,
        default_model: str,
        max_text_chars: int = MAX_TEXT_CHARS,
        max_in_flight: int = 64,
        batch_window_s: float = 0.005,
        max_batch_size: int = 16,
        bit_rates: Mapping[AudioFormat, int] | None = None,
    ) -> None:
        self.registry = registry
        self.bit_rates = dict(bit_rates or {})
        self.default_model = default_model
        self.max_text_chars = max_text_chars
        self.max_in_flight = max_in_flight
        self._window = batch_window_s
        self._max_batch = max_batch_size
        self._runners: dict[str, ModelRunner] = {}
        self.in_progress = 0

    def plan(self, settings: VoiceSettings) -> Plan:
        return plan(self.registry, self.default_model, settings)

    # -- speech ------------------------------------------------------------------
    async def synthesize(self, request: SpeechRequest) -> Speech:
        check_text(request.text, self.max_text_chars)
        chosen = self.plan(request)
        sentences = split_sentences(request.text.strip())
        start = time.perf_counter()
        with self._admit():
            async with self.registry.lease(chosen.model) as backend:
                runner = self.runner(chosen.model, backend)
                parts = await asyncio.gather(*(runner.synthesize(chosen.job(s)) for s in sentences))
        samples = np.concatenate(parts) if parts else np.zeros(0, np.float32)
        audio = await asyncio.to_thread(
            encode,
            samples,
            backend.sample_rate,
            request.format,
            request.sample_rate,
            self.bit_rates.get(request.format, 0),
        )
        seconds = len(samples) / backend.sample_rate
        metrics.FIRST_AUDIO.labels(chosen.model, "unary").observe(time.perf_counter() - start)
        _log_speech("unary", chosen, len(request.text), len(sentences), seconds, start)
        rate = _container_rate(request.format, request.sample_rate or backend.sample_rate)
        return Speech(audio, request.format, rate, seconds, chosen.model, chosen.voice)

    async def stream(self, request: SpeechRequest) -> AsyncIterator[SpeechChunk]:
        """The whole text known: checked first, then streamed like a text stream."""
        check_text(request.text, self.max_text_chars)

        async def whole() -> AsyncIterator[str]:
            yield request.text

        async for chunk in self.stream_text(request, whole(), kind="stream", accept=False):
            yield chunk

    async def stream_text(
        self,
        settings: VoiceSettings,
        texts: AsyncIterator[str],
        kind: str = "text stream",
        accept: bool = True,
        first_clause: bool = False,
    ) -> AsyncIterator[SpeechChunk]:
        """Text in pieces in, the audio of each sentence out as soon as it is known.
        With `accept`, an empty first chunk says the settings are good and the model is
        loaded: a client may wait for it before it writes text, so that a refusal never
        meets its writes (grpc/grpc#36066 turns such a status into INTERNAL)."""
        chosen = self.plan(settings)
        start = time.perf_counter()
        with self._admit():
            async with self.registry.lease(chosen.model) as backend:
                runner = self.runner(chosen.model, backend)
                encoder = StreamEncoder(
                    settings.format,
                    backend.sample_rate,
                    settings.sample_rate,
                    bit_rate=self.bit_rates.get(settings.format, 0),
                )
                rate = _container_rate(settings.format, encoder.output_rate)
                sequence, samples, chars, sentences = 0, 0, 0, 0
                text, text_start = "", 0.0
                # to the first audio: from the request (whole text), else from the first
                # complete sentence (before it, the client was still writing)
                heard_from: float | None = None if accept else start

                def chunk(data: bytes, final: bool = False, end: bool = False) -> SpeechChunk:
                    return SpeechChunk(
                        data,
                        sequence,
                        settings.format,
                        rate,
                        samples / backend.sample_rate,
                        final,
                        chosen.model,
                        chosen.voice,
                        text,
                        text_start,
                        end,
                    )

                if accept:
                    yield chunk(b"")
                    sequence += 1
                pipeline = sentence_audio(
                    runner, chosen, texts, self.max_text_chars, first_clause=first_clause
                )
                async for item in pipeline:
                    if isinstance(item, SentenceStart):
                        heard_from = heard_from or time.perf_counter()
                        text, text_start = item.text, samples / backend.sample_rate
                        chars, sentences = chars + len(item.text), sentences + 1
                        continue
                    if isinstance(item, SentenceEnd):
                        if accept:  # a text stream says where each sentence ends
                            yield chunk(b"", end=True)
                            sequence, text = sequence + 1, ""
                        continue
                    if samples == 0 and len(item) and heard_from is not None:
                        elapsed = time.perf_counter() - heard_from
                        metrics.FIRST_AUDIO.labels(chosen.model, kind).observe(elapsed)
                    samples += len(item)
                    if data := encoder.write(item):
                        yield chunk(data)
                        sequence, text = sequence + 1, ""
                yield chunk(encoder.close(), final=True)
                seconds = samples / backend.sample_rate
                _log_speech(kind, chosen, chars, sentences, seconds, start)

    # -- models and voices ----------------------------------------------------------
    def voices(self, model: str = "") -> list[tuple[str, VoiceInfo]]:
        entries = [self.registry.entry(model)] if model else self.registry.entries()
        return [(e.name, v) for e in entries for v in e.backend.voices()]

    def runners(self) -> dict[str, ModelRunner]:
        """The runner of each model used so far (a copy: metrics read it from a thread)."""
        return dict(self._runners)

    def runner(self, model: str, backend: TTSBackend) -> ModelRunner:
        if model not in self._runners:
            self._runners[model] = ModelRunner(model, backend, self._window, self._max_batch)
        return self._runners[model]

    async def register_voice(
        self, model: str, name: str, audio: bytes, text: str = ""
    ) -> tuple[str, VoiceInfo]:
        """Add a cloned voice, from an encoded reference clip, to a model whose backend
        clones voices (a `VoiceCloner`: Qwen3-TTS Base); loads the model."""
        model = model or self.default_model
        backend = self.registry.entry(model).backend
        if not (isinstance(backend, VoiceCloner) and backend.clones_voices):
            raise InvalidRequestError(
                f"model {model!r} does not clone voices",
                reason=Reason.CLONING_NOT_SUPPORTED,
                field="model",
            )
        name = name.strip()
        if not 1 <= len(name) <= 64 or find_invalid_character(name) is not None:
            raise InvalidRequestError(
                "a voice name needs 1 to 64 characters, none of them control characters",
                reason=Reason.VOICE_NAME_INVALID,
                field="name",
            )
        try:
            clip = await asyncio.to_thread(decode_audio, audio, None, MAX_REFERENCE_SECONDS)
        except AudioDecodeError as exc:
            raise InvalidRequestError(
                f"reference audio: {exc}", reason=Reason.REFERENCE_AUDIO_INVALID, field="audio"
            ) from None
        if clip.duration < MIN_REFERENCE_SECONDS:
            raise InvalidRequestError(
                f"reference audio lasts {clip.duration:.2f} s; give at least "
                f"{MIN_REFERENCE_SECONDS:g} s",
                reason=Reason.REFERENCE_AUDIO_INVALID,
                field="audio",
            )
        with self._admit():
            async with self.registry.lease(model) as leased:
                assert isinstance(leased, VoiceCloner)
                info = await self.runner(model, leased).run(
                    leased.register_voice, name, clip.samples, clip.sample_rate, text.strip()
                )
        return model, info

    async def close(self) -> None:
        for runner in self._runners.values():
            await runner.close()
        await self.registry.close()

    # -- admission ----------------------------------------------------------------------
    @contextlib.contextmanager
    def _admit(self) -> Iterator[None]:
        if self.in_progress >= self.max_in_flight:
            metrics.REJECTED.inc()
            raise OverloadedError(
                f"server busy: {self.in_progress} requests in progress "
                f"(max_in_flight={self.max_in_flight}); retry later"
            )
        self.in_progress += 1
        metrics.ADMITTED.inc()
        try:
            yield
        finally:
            self.in_progress -= 1


def _log_speech(
    kind: str, chosen: Plan, chars: int, sentences: int, audio_seconds: float, start: float
) -> None:
    """One line per request (the request ID comes from the log context, shared.logs),
    and its audio in the metrics."""
    metrics.AUDIO_SECONDS.labels(chosen.model).inc(audio_seconds)
    log.info(
        "speech",
        extra={
            "kind": kind, "model": chosen.model, "voice": chosen.voice,
            "format": chosen.settings.format.value, "chars": chars, "sentences": sentences,
            "audio_seconds": round(audio_seconds, 3),
            "elapsed_seconds": round(time.perf_counter() - start, 3),
        },
    )  # fmt: skip


def _container_rate(fmt: AudioFormat, rate: int) -> int:
    """The sample rate of the encoded file: Ogg/Opus always decodes at 48 kHz."""
    return 48_000 if fmt is AudioFormat.OPUS else rate
