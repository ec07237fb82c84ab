"""What a turn reports as it happens, in order: `Transcribed` (spoken turns), then
`ReplyDelta`, `ThinkingDelta` and `AudioDelta` interleaved as the reply is written and
spoken, then `TurnDone` once the turn is stored. Transports render these (SSE on HTTP).
The thinking is the chat's own event (chat.base.ThinkingDelta), passed on as it is:
the reply's text is cleaned before it is a `ReplyDelta`, the thinking is not spoken."""

from __future__ import annotations

from dataclasses import dataclass

from voice_worker.chat.base import ThinkingDelta as ThinkingDelta
from voice_worker.conversation.turn import TurnResult


@dataclass(frozen=True)
class Transcribed:
    text: str


@dataclass(frozen=True)
class ReplyDelta:
    text: str


@dataclass(frozen=True)
class AudioDelta:
    audio: bytes
    text: str = ""  # the sentence whose audio starts here
    text_start: float = 0.0


@dataclass(frozen=True)
class TurnDone:
    result: TurnResult  # its audio is empty: it went out in the AudioDeltas


TurnEvent = Transcribed | ReplyDelta | ThinkingDelta | AudioDelta | TurnDone
