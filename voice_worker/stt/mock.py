"""The mock provider: always the configured transcript (for demos and for tests of
the layers above speech-to-text). The only mock in the engine."""

from __future__ import annotations

from voice_worker.stt.base import ModelCard, Segment, Transcript, TranscriptionOptions


class MockSTT:
    name = "mock"

    def __init__(self, transcript: str = "hello from the mock") -> None:
        self.transcript = transcript

    async def transcribe(self, audio: bytes, options: TranscriptionOptions) -> Transcript:
        segment = Segment(id=0, start=0.0, end=0.0, text=self.transcript)
        return Transcript(
            text=self.transcript, language=options.language or "en", segments=(segment,)
        )

    def model_card(self) -> ModelCard:
        return ModelCard("mock", ("en",))
