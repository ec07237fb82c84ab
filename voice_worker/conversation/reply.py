"""Collecting a turn's reply: written by the chat model (or told again from the response
cache), spoken while it is written (conversation.pipeline), and collected as it comes
(`Reply`: the text, the thinking, the audio, the chat's end; the stage timings in the
turn). What the model answers is cleaned of control characters before it is spoken;
thinking is kept with the reply, never spoken. With the worker's tools (voice_worker.
tools) the model may call them first: their rounds run inside the chat's stream, what
it says before a call is spoken too, and the calls are kept in the reply; a call of
one of the client's functions (TurnOptions.functions) ends the reply (`calls`), for
the client to run (conversation.functions). A reply may have been written ahead
(conversation.speculation: `speculate`); a turn without tools whose prompt is the one
it was written for takes it instead of asking the chat model. User text,
history and tool output reach the chat provider as plain content: each provider keeps
it from becoming template control tokens (chat.control, chat.local_prompt)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol

from voice_worker.chat.base import (
    ChatEnd,
    ChatEvent,
    ChatOptions,
    ChatProvider,
    ChatReply,
    TextDelta,
    ThinkingDelta,
    ToolCall,
)
from voice_worker.chat.cache import ResponseCache
from voice_worker.chat.settings import ChatSettings
from voice_worker.conversation.events import AudioDelta, FunctionCalled, ReplyDelta, TurnEvent
from voice_worker.conversation.pipeline import speak_while_writing
from voice_worker.conversation.prompt import build_prompt, window_step
from voice_worker.conversation.reply_stream import replayed, speakable_only
from voice_worker.conversation.speculation import Ask, Speculation, Speculations
from voice_worker.conversation.turn import Turn, guarded
from voice_worker.store.base import ChatStore
from voice_worker.tools.loop import ToolRunner, ToolTrace, with_tools
from voice_worker.tts.base import SpeechOptions, SpeechPiece

CHAT, SPEECH = "chat", "text-to-speech"


class Speaker(Protocol):
    """How a turn speaks (conversation.adapters.TurnSpeech)."""

    def stream_text(
        self, texts: AsyncIterator[str], options: SpeechOptions
    ) -> AsyncGenerator[SpeechPiece, None]: ...

    def speak_known(
        self, text: str, options: SpeechOptions
    ) -> AsyncGenerator[SpeechPiece, None]: ...


@dataclass
class Reply:
    """A turn's reply as it was written and spoken, in `options`."""

    options: SpeechOptions
    known: ChatReply | None = None  # told again from the response cache
    parts: list[str] = field(default_factory=list)
    thoughts: list[str] = field(default_factory=list)
    audio: bytearray = field(default_factory=bytearray)
    end: ChatEnd = field(default_factory=ChatEnd)
    tools: ToolTrace = field(default_factory=ToolTrace)  # the calls the model made
    calls: list[ToolCall] = field(default_factory=list)  # of the client's functions

    @property
    def text(self) -> str:
        return "".join(self.parts).strip()

    @property
    def thinking(self) -> str:
        return "".join(self.thoughts).strip()

    @property
    def cached(self) -> bool:
        return self.known is not None


def cacheable(turn: Turn) -> bool:
    """Whether the response cache may answer the turn (it knows analyst roles only,
    and nothing of functions)."""
    options = turn.options
    return options.instructions is None and options.functions is None and options.tools is None


class ReplyWriter:
    def __init__(
        self,
        store: ChatStore,
        chat: ChatProvider,
        tts: Speaker,
        settings: ChatSettings,
        response_cache: ResponseCache | None = None,
        tools: ToolRunner | None = None,
    ) -> None:
        self.store, self.chat, self.tts = store, chat, tts
        self.settings = settings
        self.response_cache = response_cache
        self.tools = tools  # the worker's tools, offered to every turn
        self.ahead = Speculations()  # replies written ahead of a turn's end

    async def collect(self, turn: Turn, reply: Reply) -> AsyncGenerator[TurnEvent, None]:
        """The reply's events as it is written and spoken, each kept in `reply` (the
        stage timings in the turn's). Nothing is stored here."""
        timings, watch = turn.timings, turn.watch
        if cacheable(turn) and self.response_cache is not None:
            reply.known = await self.response_cache.get(turn.session.id, turn.user.text, turn.role)
        known, options = reply.known, reply.options
        chat = replayed(known) if known else await self._ask(turn, reply)

        def speak(texts: AsyncIterator[str]) -> AsyncGenerator[SpeechPiece, None]:
            if known is not None:
                return guarded(SPEECH, self.tts.speak_known(known.text, options))
            return guarded(SPEECH, self.tts.stream_text(texts, options))

        chat_start: float | None = None
        async with contextlib.aclosing(speak_while_writing(chat, speak)) as events:
            async for event in events:
                if isinstance(event, TextDelta | ThinkingDelta):
                    timings.setdefault("chat_first_token", watch.seconds)
                if isinstance(event, TextDelta):
                    chat_start = watch.seconds if chat_start is None else chat_start
                    reply.parts.append(event.text)
                    yield ReplyDelta(event.text)
                elif isinstance(event, ThinkingDelta):
                    reply.thoughts.append(event.text)
                    yield event
                elif isinstance(event, ChatEnd):
                    reply.end, timings["chat"] = event, watch.seconds
                elif isinstance(event, ToolCall):
                    reply.calls.append(event)
                    yield FunctionCalled(event)
                elif event.audio or event.text:
                    if event.audio and "first_audio" not in timings:
                        timings["first_audio"] = watch.seconds
                        timings["tts_first_audio"] = watch.seconds - (chat_start or 0.0)
                    reply.audio += event.audio
                    yield AudioDelta(event.audio, event.text, event.text_start)
        timings["tts"] = watch.seconds - (chat_start or 0.0)
        if reply.tools.rounds:
            timings["tools"] = reply.tools.seconds

    async def _ask(self, turn: Turn, reply: Reply) -> AsyncGenerator[ChatEvent | ToolCall, None]:
        ask = await self._prompt(turn)
        functions, tools = turn.options.functions, turn.options.tools or self.tools
        written: AsyncGenerator[ChatEvent | ToolCall, None]
        if tools is None and functions is None:
            ahead = await self.ahead.take(turn.session.id, ask)
            written = self._write(ask) if ahead is None else ahead
        else:
            messages = list(ask.messages)
            written = with_tools(self.chat, messages, ask.options, tools, reply.tools, functions)
        return speakable_only(guarded(CHAT, written), self.chat.name)

    async def _prompt(self, turn: Turn) -> Ask:
        record, settings = turn.session, self.settings
        budget = settings.history_max_messages
        total = await self.store.count_messages(record.id) if budget else 0
        history = await self.store.recent_messages(record.id, budget + window_step(budget))
        instructions = turn.options.instructions
        messages = build_prompt(settings, turn.role, history, turn.user.text, total, instructions)
        messages += turn.continued
        return Ask(tuple(messages), ChatOptions(settings.max_tokens, settings.temperature))

    def _write(self, ask: Ask) -> AsyncGenerator[ChatEvent, None]:
        return self.chat.stream(list(ask.messages), ask.options)

    def speculate(self, turn: Turn) -> Speculation | None:
        """The chat reply to `turn` written ahead, for a turn like it to take
        (conversation.speculation); None when it would not be used: the worker's tools
        are on (they are not called ahead), or the response cache may answer it."""
        if self.tools is not None or turn.options.tools or turn.options.functions:
            return None

        async def prepare() -> Ask | None:
            cache = self.response_cache
            if cache is not None and cacheable(turn):
                known = await cache.get(turn.session.id, turn.user.text, turn.role)
                if known is not None:
                    return None  # the response cache answers it
            return await self._prompt(turn)

        return self.ahead.start(turn.session.id, prepare, self._write)

    async def remember(self, turn: Turn, reply: Reply) -> None:
        """A reply the chat model wrote, kept in the response cache (when there is one)."""
        if self.response_cache is None or reply.cached or not cacheable(turn):
            return
        if reply.tools.outputs:
            return  # what tools said is of its moment: asked again, they are called again
        written = ChatReply(reply.text, reply.thinking, reply.end.model)
        await self.response_cache.set(turn.session.id, turn.user.text, turn.role, written)
