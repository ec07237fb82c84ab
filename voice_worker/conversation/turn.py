"""A turn begun (`Turn`; a spoken one's `Heard`), what it returns (`TurnResult`), how
one turn may differ from its session (`TurnOptions`), and
the two helpers every turn uses: the speech options of a session, and a provider call
whose unexpected failure (a bug in a provider, not one of
the domain errors it raises) becomes UpstreamFailed naming the stage, its cause logged
with the request ID and never shown to the client."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncGenerator, Awaitable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, TypeVar

from shared.audio.formats import AudioFormat
from shared.logs import Stopwatch
from voice_worker.chat.base import ChatMessage
from voice_worker.chat.tools import ToolOffer
from voice_worker.errors import UpstreamFailed, VoiceError
from voice_worker.store.base import NewMessage, SessionRecord
from voice_worker.stt.base import Transcript
from voice_worker.tools.loop import ToolRunner
from voice_worker.tts.base import SpeechOptions

if TYPE_CHECKING:
    from voice_worker.conversation.idempotency import Held

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class TurnResult:
    session_id: str
    transcript: str | None  # what STT heard; None for a typed turn
    reply_text: str
    thinking: str
    audio: bytes
    audio_format: str
    sample_rate: int
    audio_duration: float
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    user_message_id: int = 0
    assistant_message_id: int = 0
    cached: bool = False  # the chat reply came from the response cache
    usage: dict[str, int] = field(default_factory=dict)  # the chat model's tokens

    def with_audio(self, audio: bytes) -> TurnResult:
        return replace(self, audio=audio)


@dataclass(frozen=True)
class TurnOptions:
    """What one turn does differently from its session's stored settings (None: the
    session's own). A transport's per-connection state goes here, never into the
    stored settings: the realtime protocol's `instructions`, its output audio (PCM
    at 24 kHz, its voice and speed) and the client's functions (`functions`: a call of
    one pauses the turn, conversation.functions) and the MCP servers it named (`tools`,
    instead of the worker's own)."""

    instructions: str | None = None  # the system persona instead of the analyst role's
    audio_format: AudioFormat | None = None
    sample_rate: int | None = None
    voice: str | None = None
    speed: float | None = None
    functions: ToolOffer | None = None
    tools: ToolRunner | None = None  # the tools the worker runs (None: its own servers)

    def speech(self, base: SpeechOptions) -> SpeechOptions:
        return replace(
            base,
            format=base.format if self.audio_format is None else self.audio_format,
            sample_rate=base.sample_rate if self.sample_rate is None else self.sample_rate,
            voice=base.voice if self.voice is None else self.voice,
            speed=base.speed if self.speed is None else self.speed,
        )


@dataclass
class Turn:
    """A turn begun: its session, what the user said, and the clock; with an
    Idempotency-Key, the key it holds, or the stored result it replays."""

    session: SessionRecord
    user: NewMessage
    role: str
    watch: Stopwatch = field(default_factory=Stopwatch)
    timings: dict[str, float] = field(default_factory=dict)
    options: TurnOptions = field(default_factory=TurnOptions)
    held: Held | None = None
    replay: TurnResult | None = None
    #: after the user's message: the model's calls of the client's functions earlier in
    #: this turn, and their outputs (a turn paused and resumed: conversation.functions)
    continued: tuple[ChatMessage, ...] = ()

    def speech(self) -> SpeechOptions:
        """How its reply is spoken: the session's settings, as this turn changes them."""
        return self.options.speech(speech_options(self.session))


@dataclass(frozen=True)
class Heard:
    """What speech-to-text heard in a user's audio, and how long it took."""

    transcript: Transcript
    seconds: float


def speech_options(record: SessionRecord) -> SpeechOptions:
    s = record.settings
    return SpeechOptions(
        voice=s.voice,
        model=s.tts_model,
        format=s.audio_format,
        speed=s.speed,
        sample_rate=s.sample_rate,
        language="",
        first_clause=True,  # a reply's first words are heard a sentence sooner
    )


async def guarded(name: str, stream: AsyncGenerator[T, None]) -> AsyncGenerator[T, None]:
    """`call_provider` for a stream: its items; an unexpected exception, UpstreamFailed."""
    try:
        async with contextlib.aclosing(stream):
            async for item in stream:
                yield item
    except VoiceError:
        raise
    except Exception as exc:
        log.exception("%s failed", name)
        raise UpstreamFailed(name, "failed unexpectedly (the worker's log has why)") from exc


async def call_provider(name: str, call: Awaitable[T]) -> T:
    """Await one provider call; an unexpected exception becomes UpstreamFailed."""
    try:
        return await call
    except VoiceError:
        raise
    except Exception as exc:
        log.exception("%s failed", name)
        raise UpstreamFailed(name, "failed unexpectedly (the worker's log has why)") from exc
