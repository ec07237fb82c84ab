"""Speech through ElevenLabs' exact HTTP contract (httpx, no SDK):
`POST {base}/v1/text-to-speech/{voice_id}/stream?output_format=...` with header
`xi-api-key` and JSON `{"text", "model_id", ...}`; the reply is chunked audio.
MP3 and PCM are native; other formats are encoded by the worker from `pcm_24000`.
Transient failures (429, 5xx, connection errors, timeouts) are retried with tenacity
until the reply's status arrives; the audio itself is never replayed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from shared.audio.formats import AudioFormat
from voice_worker.errors import VoiceError
from voice_worker.tts.base import Speech, SpeechOptions, VoiceDescription
from voice_worker.upstream import (
    body_detail,
    from_httpx,
    from_status,
    is_transient,
    retry_after_seconds,
)

_NAME = "ElevenLabs"
_PCM_RATES = (16_000, 22_050, 24_000, 44_100)
_MAX_WAIT = 5.0
_backoff = wait_exponential(multiplier=0.2, max=_MAX_WAIT)


def _wait(state: RetryCallState) -> float:
    """The upstream's Retry-After when it sent one (capped), else exponential."""
    error = state.outcome.exception() if state.outcome else None
    if isinstance(error, VoiceError) and error.retry_after is not None:
        return min(error.retry_after, _MAX_WAIT)
    return _backoff(state)


class ElevenLabsTTS:
    name = "elevenlabs"
    native_formats = frozenset({AudioFormat.MP3, AudioFormat.PCM})

    def __init__(
        self,
        api_key: str,
        base_url: str = "https://api.elevenlabs.io",
        model: str = "eleven_multilingual_v2",
        voice_id: str = "21m00Tcm4TlvDq8ikWAM",
        voice_ids: dict[str, str] | None = None,
        timeout: float = 60.0,
        max_retries: int = 1,
    ) -> None:
        self.model, self.voice_id = model, voice_id
        self.voice_ids = voice_ids or {}  # voice names (e.g. OpenAI's) -> ElevenLabs IDs
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

    def _request(self, text: str, options: SpeechOptions) -> httpx.Request:
        voice = self.voice_ids.get(options.voice, options.voice) or self.voice_id
        body: dict[str, Any] = {"text": text, "model_id": options.model or self.model}
        if options.language:
            body["language_code"] = options.language
        if options.speed != 1.0:
            body["voice_settings"] = {"speed": options.speed}
        return self.client.build_request(
            "POST",
            f"/v1/text-to-speech/{voice}/stream",
            params={"output_format": self._output_format(options)},
            headers={"xi-api-key": self._api_key, "accept": "audio/*"},
            json=body,
        )

    async def _open(self, request: httpx.Request) -> httpx.Response:
        """The response once its status says audio follows; errors as ours."""
        try:
            response = await self.client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise from_httpx(_NAME, exc) from None
        if response.status_code >= 400:
            await response.aread()
            await response.aclose()
            raise from_status(
                _NAME,
                response.status_code,
                body_detail(_json(response)) or response.text,
                retry_after_seconds(response.headers),
            )
        return response

    async def stream(self, text: str, options: SpeechOptions) -> AsyncIterator[bytes]:
        request = self._request(text, options)
        response: httpx.Response | None = None
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(self.max_retries + 1),
            wait=_wait,
            retry=retry_if_exception(is_transient),
            reraise=True,
        ):
            with attempt:
                response = await self._open(request)
        assert response is not None
        try:
            async for chunk in response.aiter_bytes():
                yield chunk
        except httpx.HTTPError as exc:
            error = from_httpx(_NAME, exc)
            error.message += " (after the audio started)"
            raise error from None
        finally:
            await response.aclose()

    async def synthesize(self, text: str, options: SpeechOptions) -> Speech:
        audio = b"".join([chunk async for chunk in self.stream(text, options)])
        rate = options.sample_rate or 24_000
        duration = len(audio) / 2 / rate if options.format is AudioFormat.PCM else 0.0
        return Speech(audio, options.format, rate, duration, options.model or self.model)

    async def voices(self) -> list[VoiceDescription]:
        """The configured voice names (VOICE_TTS__ELEVENLABS__VOICES), then the default."""
        named = [VoiceDescription(voice_id=i, name=n) for n, i in sorted(self.voice_ids.items())]
        if self.voice_id not in self.voice_ids.values():
            named.append(VoiceDescription(voice_id=self.voice_id, name="default"))
        return named

    async def close(self) -> None:
        await self.client.aclose()


def _json(response: httpx.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return response.text
