"""Stand-ins for one provider at a time, for the failure paths (the happy path runs on
the real ones): a chat that answers from a list or raises, a speaker that records what
it was asked to speak or raises."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass, field

from shared.audio.formats import AudioFormat
from voice_worker.chat.base import (
    ChatEnd,
    ChatEvent,
    ChatMessage,
    ChatOptions,
    ChatReply,
    TextDelta,
    ThinkingDelta,
)
from voice_worker.tts.base import SpeechOptions, SpeechPiece


@dataclass
class ScriptedChat:
    replies: list[ChatReply | Exception] = field(default_factory=list)
    prompts: list[list[ChatMessage]] = field(default_factory=list)
    name: str = "scripted"

    async def stream(
        self, messages: Sequence[ChatMessage], options: ChatOptions
    ) -> AsyncGenerator[ChatEvent, None]:
        self.prompts.append(list(messages))
        reply = self.replies.pop(0) if self.replies else ChatReply(f"reply {len(self.prompts)}")
        if isinstance(reply, Exception):
            raise reply
        if reply.thinking:
            yield ThinkingDelta(reply.thinking)
        for word in reply.text.split(" "):  # written a word at a time
            yield TextDelta(word if word is reply.text.split(" ")[0] else f" {word}")
        yield ChatEnd("scripted", {"completion_tokens": len(reply.text.split())})


@dataclass
class RecordingTTS:
    error: Exception | None = None
    spoken: list[str] = field(default_factory=list)
    options: list[SpeechOptions] = field(default_factory=list)
    name: str = "recording"

    async def stream_text(
        self, texts: AsyncIterator[str], options: SpeechOptions
    ) -> AsyncGenerator[SpeechPiece, None]:
        text = "".join([t async for t in texts]).strip()
        async for piece in self.speak_known(text, options):
            yield piece

    async def speak_known(
        self, text: str, options: SpeechOptions
    ) -> AsyncGenerator[SpeechPiece, None]:
        if self.error is not None:
            raise self.error
        self.spoken.append(text)
        self.options.append(options)
        yield SpeechPiece(text.encode(), text)


FORMAT = AudioFormat.WAV
