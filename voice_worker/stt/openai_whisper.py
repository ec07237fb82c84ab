"""Speech-to-text through OpenAI's API (`POST /v1/audio/transcriptions`), with the
official `openai` SDK; the base URL is configurable (tests point it at a fake)."""

from __future__ import annotations

import asyncio
from typing import Any

import openai

from shared.audio.decoding import AudioDecodeError, probe
from voice_worker.stt.base import Segment, Transcript, TranscriptionOptions, Word
from voice_worker.upstream import from_openai

#: FFmpeg container name -> the file extension OpenAI reads the format from
_EXTENSIONS = {"matroska,webm": "webm", "mov,mp4,m4a,3gp,3g2,mj2": "m4a", "wav": "wav"}
_NAME = "OpenAI"


def file_name(audio: bytes) -> str:
    try:
        container = probe(audio).container
    except AudioDecodeError:
        return "audio.wav"
    return f"audio.{_EXTENSIONS.get(container, container.split(',')[0])}"


class OpenAIWhisperSTT:
    name = "openai"

    def __init__(
        self,
        api_key: str,
        base_url: str,
        model: str = "whisper-1",
        timeout: float = 60.0,
        max_retries: int = 1,
    ) -> None:
        self.model = model
        self.client = openai.AsyncOpenAI(
            api_key=api_key or "unset", base_url=base_url, timeout=timeout, max_retries=max_retries
        )

    async def transcribe(self, audio: bytes, options: TranscriptionOptions) -> Transcript:
        extra: dict[str, Any] = {}
        if options.language:
            extra["language"] = options.language
        if options.prompt:
            extra["prompt"] = options.prompt
        if options.temperature:
            extra["temperature"] = options.temperature
        granularities: list[Any] = ["segment", "word"] if options.word_timestamps else ["segment"]
        name = await asyncio.to_thread(file_name, audio)  # FFmpeg probe: off the event loop
        try:
            reply = await self.client.audio.transcriptions.create(
                file=(name, audio),
                model=self.model,
                response_format="verbose_json",
                timestamp_granularities=granularities,
                **extra,
            )
        except openai.OpenAIError as exc:
            raise from_openai(_NAME, exc) from None
        segments = tuple(
            Segment(
                id=s.id,
                start=s.start,
                end=s.end,
                text=s.text,
                avg_logprob=s.avg_logprob,
                no_speech_prob=s.no_speech_prob,
                compression_ratio=s.compression_ratio,
                temperature=s.temperature,
                tokens=tuple(s.tokens),
            )
            for s in reply.segments or ()
        )
        words = tuple(Word(w.word, w.start, w.end) for w in reply.words or ())
        return Transcript(
            text=reply.text.strip(),
            language=reply.language or "en",
            duration=float(reply.duration or 0.0),
            segments=segments,
            words=words,
        )

    async def close(self) -> None:
        await self.client.close()
