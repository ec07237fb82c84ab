"""What a turn reports as it happens, in order: `Transcribed` (spoken turns), then
`ReplyDelta`, `ThinkingDelta` and `AudioDelta` interleaved as the reply is written and
spoken, then `TurnDone` once the turn is stored. Transports render these (SSE on HTTP).
A turn offered a client's functions (realtime) may instead end with `FunctionCalled`
for each call the model made and `TurnPaused` (stored later: conversation.functions).
The thinking is the chat's own event (chat.base.ThinkingDelta), passed on as it is:
the reply's text is cleaned before it is a `ReplyDelta`, the thinking is not spoken."""

from __future__ import annotations

from dataclasses import dataclass

from voice_worker.chat.base import ThinkingDelta as ThinkingDelta
from voice_worker.chat.base import ToolCall
from voice_worker.conversation.turn import Turn, TurnResult


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


@dataclass(frozen=True)
class FunctionCalled:
    """The model called one of the client's functions (the client runs it)."""

    call: ToolCall


@dataclass(frozen=True)
class TurnPaused:
    """The turn waits for the outputs of the functions it called; `turn` goes on with
    them (conversation.functions.resumed). Nothing was stored."""

    turn: Turn
    calls: tuple[ToolCall, ...]


TurnEvent = (
    Transcribed | ReplyDelta | ThinkingDelta | AudioDelta | TurnDone | FunctionCalled | TurnPaused
)
