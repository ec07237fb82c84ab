"""The model server's domain: validate a speech request, admit it (a bound on requests
in flight), run it on the right model, encode the audio. Transport-free: the gRPC
servicer is a thin adapter over `Synthesizer`; errors are model_server.errors.

Text is split into sentences (shared.text). A unary request submits every sentence to
the model's batcher at once, so sentences of one request and of concurrent requests
share batches (Qwen3) or cores (Piper). A stream synthesizes sentence by sentence with
one sentence of lookahead: sentence i+1 runs while sentence i is being sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from model_server.backends.base import (
    FloatArray,
    SynthesisJob,
    TTSBackend,
    VoiceCloner,
    VoiceInfo,
)
from model_server.batching import ModelRunner, StreamHandle
from model_server.errors import InvalidRequestError, NotFoundError, OverloadedError, text_error
from model_server.registry import ModelRegistry
from shared.audio.decoding import AudioDecodeError
from shared.audio.decoding import decode as decode_audio
from shared.audio.encoding import StreamEncoder, encode
from shared.audio.formats import AudioFormat
from shared.limits import MAX_SAMPLE_RATE, MAX_SPEED, MAX_TEXT_CHARS, MIN_SAMPLE_RATE, MIN_SPEED
from shared.speakable import TextRejected, check_speakable, find_invalid_character
from shared.text import split_sentences
from voice_contract.reasons import Reason

log = logging.getLogger(__name__)
MIN_REFERENCE_SECONDS, MAX_REFERENCE_SECONDS = 1.0, 30.0  # RegisterVoice clips


@dataclass(frozen=True)
class SpeechRequest:
    text: str
    model: str = ""
    voice: str = ""
    language: str = ""
    format: AudioFormat = AudioFormat.WAV
    sample_rate: int = 0
    speed: float = 0.0
    instructions: str = ""


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


@dataclass(frozen=True)
class _Plan:
    model: str
    voice: str
    sentences: list[str]


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

    # -- speech ------------------------------------------------------------------
    async def synthesize(self, request: SpeechRequest) -> Speech:
        plan = self._plan(request)
        start = time.perf_counter()
        with self._admit():
            async with self.registry.lease(plan.model) as backend:
                runner = self.runner(plan.model, backend)
                parts = await asyncio.gather(
                    *(runner.synthesize(self._job(request, plan, s)) for s in plan.sentences)
                )
        samples = np.concatenate(parts) if parts else np.zeros(0, np.float32)
        audio = await asyncio.to_thread(
            encode,
            samples,
            backend.sample_rate,
            request.format,
            request.sample_rate,
            self.bit_rates.get(request.format, 0),
        )
        rate = request.sample_rate or backend.sample_rate
        _log_speech("unary", plan, request, len(samples) / backend.sample_rate, start)
        return Speech(
            audio,
            request.format,
            _container_rate(request.format, rate),
            len(samples) / backend.sample_rate,
            plan.model,
            plan.voice,
        )

    async def stream(self, request: SpeechRequest) -> AsyncIterator[SpeechChunk]:
        plan = self._plan(request)
        start = time.perf_counter()
        with self._admit():
            async with self.registry.lease(plan.model) as backend:
                runner = self.runner(plan.model, backend)
                encoder = StreamEncoder(
                    request.format,
                    backend.sample_rate,
                    request.sample_rate,
                    bit_rate=self.bit_rates.get(request.format, 0),
                )
                rate = _container_rate(request.format, encoder.output_rate)
                sequence, samples = 0, 0

                def chunk(data: bytes, final: bool = False) -> SpeechChunk:
                    seconds = samples / backend.sample_rate
                    return SpeechChunk(
                        data, sequence, request.format, rate, seconds, final, plan.model, plan.voice
                    )

                async for block in self._sentence_blocks(runner, request, plan):
                    samples += len(block)
                    if data := encoder.write(block):
                        yield chunk(data)
                        sequence += 1
                yield chunk(encoder.close(), final=True)
                _log_speech("stream", plan, request, samples / backend.sample_rate, start)

    async def _sentence_blocks(
        self, runner: ModelRunner, request: SpeechRequest, plan: _Plan
    ) -> AsyncIterator[FloatArray]:
        pending: Iterator[str] = iter(plan.sentences)
        handles: deque[StreamHandle] = deque()

        def start_next() -> None:
            if (sentence := next(pending, None)) is not None:
                handles.append(runner.start_stream(self._job(request, plan, sentence)))

        start_next()
        try:
            while handles:
                current = handles.popleft()
                start_next()  # lookahead: the next sentence runs while this one is sent
                async for block in current:
                    yield block
        finally:
            for handle in handles:
                handle.cancel()

    # -- models and voices ----------------------------------------------------------
    def voices(self, model: str = "") -> list[tuple[str, VoiceInfo]]:
        entries = [self.registry.entry(model)] if model else self.registry.entries()
        return [(e.name, v) for e in entries for v in e.backend.voices()]

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

    # -- validation and admission ----------------------------------------------------------
    def _plan(self, request: SpeechRequest) -> _Plan:
        try:
            check_speakable(request.text, self.max_text_chars)
        except TextRejected as exc:
            raise text_error(exc) from None
        model = request.model or self.default_model
        backend = self.registry.entry(model).backend
        voices = {v.name: v for v in backend.voices()}
        voice = request.voice or next(iter(voices), "")  # a cloning model may have none yet
        if voice not in voices:
            raise NotFoundError(
                f"unknown voice {voice!r} for model {model!r}; available voices: "
                + ", ".join(voices),
                reason=Reason.VOICE_NOT_FOUND,
                field="voice",
            )
        _check_language(request.language, voices[voice])
        if request.speed and not MIN_SPEED <= request.speed <= MAX_SPEED:
            raise InvalidRequestError(
                f"speed {request.speed:g} is out of range; use {MIN_SPEED} to {MAX_SPEED}",
                reason=Reason.SPEED_OUT_OF_RANGE,
                field="speed",
            )
        if request.sample_rate and not MIN_SAMPLE_RATE <= request.sample_rate <= MAX_SAMPLE_RATE:
            raise InvalidRequestError(
                f"sample_rate {request.sample_rate} is out of range; use 0 (the model's own) "
                f"or {MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE}",
                reason=Reason.SAMPLE_RATE_OUT_OF_RANGE,
                field="sample_rate",
            )
        if request.instructions and not backend.accepts_instructions:
            raise InvalidRequestError(
                f"model {model!r} does not accept instructions",
                reason=Reason.INSTRUCTIONS_NOT_SUPPORTED,
                field="instructions",
            )
        return _Plan(model, voice, split_sentences(request.text.strip()))

    @contextlib.contextmanager
    def _admit(self) -> Iterator[None]:
        if self.in_progress >= self.max_in_flight:
            raise OverloadedError(
                f"server busy: {self.in_progress} requests in progress "
                f"(max_in_flight={self.max_in_flight}); retry later"
            )
        self.in_progress += 1
        try:
            yield
        finally:
            self.in_progress -= 1

    @staticmethod
    def _job(request: SpeechRequest, plan: _Plan, text: str) -> SynthesisJob:
        return SynthesisJob(
            text=text,
            voice=plan.voice,
            language=request.language,
            speed=request.speed or 1.0,
            instructions=request.instructions,
        )


def _log_speech(
    kind: str, plan: _Plan, request: SpeechRequest, audio_seconds: float, start: float
) -> None:
    """One line per request; the request ID comes from the log context (shared.logs)."""
    log.info(
        "speech",
        extra={
            "kind": kind, "model": plan.model, "voice": plan.voice,
            "format": request.format.value, "chars": len(request.text),
            "sentences": len(plan.sentences), "audio_seconds": round(audio_seconds, 3),
            "elapsed_seconds": round(time.perf_counter() - start, 3),
        },
    )  # fmt: skip


def _check_language(language: str, voice: VoiceInfo) -> None:
    if not language or language.lower() == "auto":
        return
    wanted = language.lower().replace("-", "_")
    for have in voice.languages:
        have = have.lower().replace("-", "_")
        if wanted == have or have.startswith(wanted + "_") or wanted.startswith(have + "_"):
            return
    raise InvalidRequestError(
        f"voice {voice.name!r} does not speak {language!r}; its languages: "
        + ", ".join(voice.languages),
        reason=Reason.LANGUAGE_NOT_SUPPORTED,
        field="language",
    )


def _container_rate(fmt: AudioFormat, rate: int) -> int:
    """The sample rate of the encoded file: Ogg/Opus always decodes at 48 kHz."""
    return 48_000 if fmt is AudioFormat.OPUS else rate
