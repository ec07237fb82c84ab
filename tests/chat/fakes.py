"""Stand-ins for one provider at a time, for the failure paths (the happy path runs on
the real ones): a chat that answers from a list or raises, a TTS that records what it
was asked to speak or raises."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from shared.audio.formats import AudioFormat
from voice_worker.chat.base import ChatMessage, ChatOptions, ChatReply
from voice_worker.tts.base import Speech, SpeechOptions


@dataclass
class ScriptedChat:
    replies: list[ChatReply | Exception] = field(default_factory=list)
    prompts: list[list[ChatMessage]] = field(default_factory=list)
    name: str = "scripted"

    async def complete(self, messages: Sequence[ChatMessage], options: ChatOptions) -> ChatReply:
        self.prompts.append(list(messages))
        reply = self.replies.pop(0) if self.replies else ChatReply(f"reply {len(self.prompts)}")
        if isinstance(reply, Exception):
            raise reply
        return reply

    async def close(self) -> None:
        return None


@dataclass
class RecordingTTS:
    error: Exception | None = None
    spoken: list[str] = field(default_factory=list)
    options: list[SpeechOptions] = field(default_factory=list)
    name: str = "recording"

    async def synthesize(self, text: str, options: SpeechOptions) -> Speech:
        if self.error is not None:
            raise self.error
        self.spoken.append(text)
        self.options.append(options)
        return Speech(text.encode(), options.format, 16000, 1.0, "fake", "fake")

    async def stream(self, text: str, options: SpeechOptions) -> AsyncIterator[bytes]:
        yield (await self.synthesize(text, options)).audio


FORMAT = AudioFormat.WAV
