"""Speech through OpenAI's API (`POST /v1/audio/speech`) with the official `openai`
SDK, streamed; every OpenAI format is native. Base URL configurable."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, Literal

import openai

from shared.audio.decoding import decode
from shared.audio.formats import AudioFormat
from voice_worker.tts.base import Speech, SpeechOptions
from voice_worker.upstream import from_openai

_NAME = "OpenAI"


class OpenAITTS:
    name = "openai"
    native_formats = frozenset(AudioFormat)
    takes_openai_names: Literal[True] = True  # tts.base.TakesOpenAINames

    def __init__(
        self,
        api_key: str,
        base_url: str,
        model: str = "gpt-4o-mini-tts",
        voice: str = "alloy",
        timeout: float = 60.0,
        max_retries: int = 1,
    ) -> None:
        self.model = model
        self.voice = voice
        self.client = openai.AsyncOpenAI(
            api_key=api_key or "unset", base_url=base_url, timeout=timeout, max_retries=max_retries
        )

    def _params(self, text: str, options: SpeechOptions) -> dict[str, Any]:
        params: dict[str, Any] = {
            "input": text,
            "model": options.model or self.model,
            "voice": options.voice or self.voice,
            "response_format": options.format.value,
        }
        if options.speed != 1.0:
            params["speed"] = options.speed
        if options.instructions:
            params["instructions"] = options.instructions
        return params

    async def stream(self, text: str, options: SpeechOptions) -> AsyncIterator[bytes]:
        started = False
        try:
            async with self.client.audio.speech.with_streaming_response.create(
                **self._params(text, options)
            ) as response:
                async for chunk in response.iter_bytes():
                    started = True
                    yield chunk
        except openai.OpenAIError as exc:
            error = from_openai(_NAME, exc)
            if started:
                error.message = f"{error.message} (after the audio started)"
            raise error from None

    async def synthesize(self, text: str, options: SpeechOptions) -> Speech:
        audio = b"".join([chunk async for chunk in self.stream(text, options)])
        rate, duration = 24_000, 0.0
        if options.format is AudioFormat.PCM:
            duration = len(audio) / 2 / rate
        else:
            decoded = await asyncio.to_thread(decode, audio)  # FFmpeg: off the event loop
            rate, duration = decoded.sample_rate, decoded.duration
        return Speech(audio, options.format, rate, duration, options.model or self.model)

    async def close(self) -> None:
        await self.client.close()
