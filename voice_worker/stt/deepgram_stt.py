"""Speech-to-text through Deepgram's pre-recorded API with the `deepgram-sdk` 7
client: `client.listen.v1.media.transcribe_file(request=<bytes>, model="nova-3",
smart_format=True, punctuate=True, language="en")`; the base URL is configurable."""

from __future__ import annotations

from typing import Any

import httpx
from deepgram import AsyncDeepgramClient
from deepgram.core.api_error import ApiError
from deepgram.environment import DeepgramClientEnvironment

from voice_worker.errors import UpstreamFailed
from voice_worker.stt.base import ModelCard, Segment, Transcript, TranscriptionOptions, Word
from voice_worker.upstream import body_detail, from_httpx, from_status, retry_after_seconds

_NAME = "Deepgram"


def environment(base_url: str) -> DeepgramClientEnvironment:
    base = base_url.rstrip("/")
    scheme, _, host = base.partition("://")
    ws = ("wss://" if scheme == "https" else "ws://") + host
    return DeepgramClientEnvironment(base=base, production=ws, agent=ws, agent_rest=base)


class DeepgramSTT:
    name = "deepgram"

    def __init__(
        self,
        api_key: str,
        base_url: str = "https://api.deepgram.com",
        model: str = "nova-3",
        language: str = "en",
        timeout: float = 60.0,
        max_retries: int = 1,
    ) -> None:
        self.model = model
        self.language = language
        self._http = httpx.AsyncClient(timeout=timeout)
        self.client = AsyncDeepgramClient(
            api_key=api_key or "unset",
            environment=environment(base_url),
            timeout=timeout,
            max_retries=max_retries,
            httpx_client=self._http,
        )

    async def transcribe(self, audio: bytes, options: TranscriptionOptions) -> Transcript:
        try:
            reply: Any = await self.client.listen.v1.media.transcribe_file(
                request=audio,
                model=self.model,
                smart_format=True,
                punctuate=True,
                language=options.language or self.language,
            )
        except ApiError as exc:
            detail = body_detail(exc.body) or f"HTTP {exc.status_code}"
            status = exc.status_code or 502
            raise from_status(
                _NAME, status, detail, retry_after_seconds(exc.headers or {})
            ) from None
        except httpx.HTTPError as exc:  # timeouts and connection failures
            raise from_httpx(_NAME, exc) from None
        try:
            alternative = reply.results.channels[0].alternatives[0]
        except (AttributeError, IndexError, TypeError):
            raise UpstreamFailed(_NAME, "returned no transcript", code="upstream_empty") from None
        words = tuple(
            Word(w.punctuated_word or w.word, float(w.start), float(w.end))
            for w in alternative.words or ()
        )
        duration = float(reply.metadata.duration or 0.0) if reply.metadata else 0.0
        text = (alternative.transcript or "").strip()
        segment = Segment(id=0, start=0.0, end=duration, text=text)
        return Transcript(
            text=text,
            language=options.language or self.language,
            duration=duration,
            segments=(segment,) if text else (),
            words=words,
        )

    def model_card(self) -> ModelCard:
        return ModelCard(self.model, (self.language,))

    async def close(self) -> None:
        await self._http.aclose()
