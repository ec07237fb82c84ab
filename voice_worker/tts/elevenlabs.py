"""Speech through ElevenLabs' exact HTTP contract (httpx, no SDK):
`POST {base}/v1/text-to-speech/{voice_id}/stream?output_format=...` with header
`xi-api-key` and JSON `{"text", "model_id", ...}`; the reply is chunked audio.
MP3 and PCM are native; other formats are encoded here from `pcm_24000`.
Retries (429, 5xx, connection errors) happen only before the first audio byte."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx

from shared.audio.formats import AudioFormat
from voice_worker.errors import from_sdk_exception, parse_retry_after
from voice_worker.tts.base import Speech, SpeechOptions

_NAME = "ElevenLabs"
_PCM_RATES = (16_000, 22_050, 24_000, 44_100)
_RETRYABLE = {429, 500, 502, 503, 504}


class ElevenLabsError(Exception):
    def __init__(self, status_code: int, body: object, headers: httpx.Headers) -> None:
        super().__init__(f"HTTP {status_code}")
        self.status_code, self.body, self.headers = status_code, body, headers


class ElevenLabsTTS:
    name = "elevenlabs"
    native_formats = frozenset({AudioFormat.MP3, AudioFormat.PCM})

    def __init__(
        self,
        api_key: str,
        base_url: str = "https://api.elevenlabs.io",
        model: str = "eleven_multilingual_v2",
        voice_id: str = "21m00Tcm4TlvDq8ikWAM",
        voices: dict[str, str] | None = None,
        timeout: float = 60.0,
        max_retries: int = 1,
    ) -> None:
        self.model, self.voice_id = model, voice_id
        self.voices = voices or {}
        self.max_retries = max_retries
        self._api_key = api_key
        self.client = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout)

    def _output_format(self, options: SpeechOptions) -> str:
        if options.format is AudioFormat.PCM:
            rate = options.sample_rate or 24_000
            if rate not in _PCM_RATES:
                rate = 24_000
            return f"pcm_{rate}"
        return "mp3_44100_128"

    def _body(self, text: str, options: SpeechOptions) -> dict[str, Any]:
        body: dict[str, Any] = {"text": text, "model_id": options.model or self.model}
        if options.language:
            body["language_code"] = options.language
        if options.speed != 1.0:
            body["voice_settings"] = {"speed": options.speed}
        return body

    async def stream(self, text: str, options: SpeechOptions) -> AsyncIterator[bytes]:
        voice = self.voices.get(options.voice, options.voice) or self.voice_id
        url = f"/v1/text-to-speech/{voice}/stream"
        params = {"output_format": self._output_format(options)}
        headers = {"xi-api-key": self._api_key, "accept": "audio/*"}
        for attempt in range(self.max_retries + 1):
            started = False
            try:
                async with self.client.stream(
                    "POST", url, params=params, headers=headers, json=self._body(text, options)
                ) as response:
                    if response.status_code >= 400:
                        await response.aread()
                        raise ElevenLabsError(
                            response.status_code, _json(response), response.headers
                        )
                    async for chunk in response.aiter_bytes():
                        started = True
                        yield chunk
                return
            except (ElevenLabsError, httpx.HTTPError) as exc:
                status = getattr(exc, "status_code", None)
                transient = status in _RETRYABLE or isinstance(exc, httpx.TransportError)
                if not started and transient and attempt < self.max_retries:
                    delay = parse_retry_after(getattr(exc, "headers", {}).get("retry-after"))
                    await asyncio.sleep(min(delay or 0.2 * 2**attempt, 5.0))
                    continue
                raise from_sdk_exception(_NAME, exc) from None

    async def synthesize(self, text: str, options: SpeechOptions) -> Speech:
        audio = b"".join([chunk async for chunk in self.stream(text, options)])
        rate = options.sample_rate or 24_000
        duration = len(audio) / 2 / rate if options.format is AudioFormat.PCM else 0.0
        return Speech(audio, options.format, rate, duration, options.model or self.model)

    async def close(self) -> None:
        await self.client.aclose()


def _json(response: httpx.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return response.text
