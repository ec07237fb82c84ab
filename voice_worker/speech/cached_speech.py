"""`CachedSpeech`: speech synthesis whatever the transport: validate (one text rule,
shared.speakable), map OpenAI's names, look in the audio cache, and on a miss
synthesize once (single flight) while streaming to every caller; the finished audio is
stored in the cache. Text that is still being written (a chat reply, a Wyoming stream)
is spoken through `stream_text`, under the same checks and names."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, replace

from shared.audio.formats import MIME_TYPES, AudioFormat
from shared.cache.base import ByteCache, cache_key
from shared.cache.singleflight import SingleFlight
from shared.limits import MAX_SAMPLE_RATE, MAX_SPEED, MAX_TEXT_CHARS, MIN_SAMPLE_RATE, MIN_SPEED
from shared.speakable import TextIssue, TextRejected, check_characters, check_speakable
from voice_worker.catalog.choices import SpeechChoices
from voice_worker.catalog.openai_names import OPENAI_TTS_MODELS, OPENAI_VOICES
from voice_worker.errors import InvalidRequest
from voice_worker.tts.base import SpeechOptions, SpeechPiece, TakesOpenAINames, TTSProvider
from voice_worker.tts.text_stream import speak_text
from voice_worker.tts.transcode import fix_wav_sizes, stream_any_format

#: the error code of each text problem (OpenAI's `code`)
TEXT_CODES = {
    TextIssue.EMPTY: "empty_input",
    TextIssue.TOO_LONG: "string_above_max_length",
    TextIssue.CONTROL_CHARACTER: "invalid_character",
    TextIssue.NOT_SPEAKABLE: "nothing_to_speak",
}


def text_error(exc: TextRejected, param: str) -> InvalidRequest:
    return InvalidRequest(exc.message, param=param, code=TEXT_CODES[exc.issue])


@dataclass(frozen=True)
class SpeechJob:
    text: str
    options: SpeechOptions
    key: str


@dataclass
class SpeechOutput:
    format: AudioFormat
    cached: bool
    body: bytes | None = None  # whole file (a cache hit, or `stream=False`)
    chunks: AsyncIterator[bytes] | None = None  # a live stream (first chunk included)

    @property
    def media_type(self) -> str:
        return MIME_TYPES[self.format]


@dataclass
class SpeechCounters:
    requests: int = 0
    cache_hits: int = 0
    syntheses: int = 0


class CachedSpeech:
    def __init__(
        self,
        provider: TTSProvider,
        cache: ByteCache,
        ttl_seconds: float = 3600.0,
        max_input_chars: int = MAX_TEXT_CHARS,
        voice_map: Mapping[str, str] | None = None,
        bit_rates: Mapping[AudioFormat, int] | None = None,
    ) -> None:
        self.provider = provider
        self.cache = cache
        self.ttl_seconds = ttl_seconds
        self.max_input_chars = max_input_chars
        self.voice_map = {k.lower(): v for k, v in (voice_map or {}).items()}
        self.bit_rates = dict(bit_rates or {})
        self.flights = SingleFlight()
        self.counters = SpeechCounters()
        #: the names the provider offers, when it says (catalog.choices); else unchecked
        self.choices: SpeechChoices | None = None
        # OpenAI names go through untouched only to an engine that knows them
        self._translate_names = not isinstance(provider, TakesOpenAINames)

    def prepare(
        self,
        text: str,
        fmt: str | AudioFormat = AudioFormat.MP3,
        voice: str = "",
        model: str = "",
        speed: float = 1.0,
        sample_rate: int = 0,
        instructions: str = "",
        language: str = "",
        text_param: str = "input",
    ) -> SpeechJob:
        """Validate and normalize one request (`text_param`: the text's name in the
        caller's request); the key covers everything that changes the audio."""
        try:
            check_speakable(text, self.max_input_chars, text_param)
        except TextRejected as exc:
            raise text_error(exc, text_param) from None
        asked = SpeechOptions(
            voice=voice,
            model=model,
            speed=speed,
            sample_rate=sample_rate,
            language=language,
            instructions=instructions,
        )
        self._check(asked)
        try:
            audio_format = AudioFormat.parse(fmt) if isinstance(fmt, str) else fmt
        except ValueError as exc:
            raise InvalidRequest(str(exc), param="response_format") from None
        voice, model = self.engine_names(voice, model)
        if audio_format is AudioFormat.PCM and not sample_rate:
            sample_rate = 24_000  # OpenAI's pcm: 24 kHz s16le mono
        options = SpeechOptions(
            voice=voice,
            model=model,
            format=audio_format,
            speed=speed,
            sample_rate=sample_rate,
            language=language,
            instructions=instructions,
        )
        key = cache_key(
            "tts",
            provider=self.provider.name,
            text=text,
            voice=voice,
            model=model,
            format=audio_format.value,
            speed=round(speed, 4),
            sample_rate=sample_rate,
            language=language,
            instructions=instructions,
        )
        return SpeechJob(text, options, key)

    def stream_text(
        self, texts: AsyncIterator[str], options: SpeechOptions
    ) -> AsyncGenerator[SpeechPiece, None]:
        """Text as it is written in, speech out as each sentence is complete
        (tts.text_stream.speak_text), with the checks and names of `prepare`: a voice,
        model, language, speed or rate it refuses is raised here, before any text is
        read. Nothing is cached here (a caller keeps a whole reply with `remember`)."""
        self._check(options)
        voice, model = self.engine_names(options.voice, options.model)
        named = replace(options, voice=voice, model=model)
        return speak_text(self.provider, texts, named, self.bit_rates)

    def _check(self, options: SpeechOptions) -> None:
        """InvalidRequest naming the first field a request may not have (its format
        aside: `prepare` parses it, a stream's is the caller's)."""
        o = options
        for name, value in (
            ("voice", o.voice),
            ("model", o.model),
            ("instructions", o.instructions),
        ):
            try:
                check_characters(value, name)
            except TextRejected as exc:
                raise text_error(exc, name) from None
        if self.choices is not None:
            self.choices.check(o.voice, o.model, o.language, o.instructions)
        speed, sample_rate = o.speed, o.sample_rate
        if not MIN_SPEED <= speed <= MAX_SPEED:
            raise InvalidRequest(
                f"speed {speed:g} is out of range; use {MIN_SPEED} to {MAX_SPEED}",
                param="speed",
                code="invalid_value",
            )
        if sample_rate and not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
            raise InvalidRequest(
                f"sample_rate {sample_rate} is out of range; use 0 (the voice's own) or "
                f"{MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE}",
                param="sample_rate",
                code="invalid_value",
            )

    def engine_names(self, voice: str, model: str) -> tuple[str, str]:
        """OpenAI's voice and model names as this engine's (VOICE_TTS__VOICE_MAP, else
        the defaults); other names as they are."""
        if not self._translate_names:
            return voice, model
        voice = self.voice_map.get(voice.lower(), "" if voice.lower() in OPENAI_VOICES else voice)
        return voice, "" if model in OPENAI_TTS_MODELS else model

    async def speak(self, job: SpeechJob, stream: bool = True) -> SpeechOutput:
        """The audio for `job`: from the cache, or synthesized. Errors that happen
        before the first audio byte are raised here (so they become HTTP errors)."""
        self.counters.requests += 1
        fmt = job.options.format
        cached = await self.cache.get(job.key)
        if cached is not None:
            self.counters.cache_hits += 1
            return SpeechOutput(fmt, cached=True, body=cached)
        flight = self.flights.join(job.key, lambda: self._produce(job), self._store(job.key))
        await flight.first()
        if not stream:
            return SpeechOutput(fmt, cached=False, body=fix_wav_sizes(await flight.whole()))
        return SpeechOutput(fmt, cached=False, chunks=flight.read())

    async def _produce(self, job: SpeechJob) -> AsyncIterator[bytes]:
        self.counters.syntheses += 1
        stream = stream_any_format(self.provider, job.text, job.options, self.bit_rates)
        async for chunk in stream:
            yield chunk

    async def remember(self, job: SpeechJob, audio: bytes) -> None:
        """Keep audio produced elsewhere (a reply spoken as it was written) under the
        key of its whole text, as if it had been synthesized here."""
        await self.cache.set(job.key, fix_wav_sizes(audio), self.ttl_seconds)

    def _store(self, key: str) -> Callable[[bytes], Awaitable[None]]:
        async def store(audio: bytes) -> None:
            if audio:
                await self.cache.set(key, fix_wav_sizes(audio), self.ttl_seconds)

        return store

    def state(self) -> dict[str, object]:
        return {
            "provider": self.provider.name,
            "requests": self.counters.requests,
            "cache_hits": self.counters.cache_hits,
            "syntheses": self.counters.syntheses,
            "single_flight_joined": self.flights.joined,
        }

    async def close(self) -> None:
        await self.flights.close()
