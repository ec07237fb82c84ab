"""Replies written ahead in one realtime connection (conversation.speculation).

When an early transcript of the speech so far is ready (realtime/input.py starts it
when the user falls silent) and a VAD turn would answer by itself, the reply to the
words a response would answer (the user items still waiting, then these) is written
ahead, with the options a response would have now. Nothing goes to the client. The
input buffer drops the early transcript when the user speaks again or the buffer
changes (`discarded`), and its reply is dropped with it; a response whose turn is the
same takes it (VoiceChatEngine.speculate). Off: VOICE_REALTIME__SPECULATIVE_REPLIES."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from voice_worker.conversation.speculation import Speculation
from voice_worker.conversation.turn import Heard
from voice_worker.errors import VoiceError
from voice_worker.realtime.config import RealtimeConfig
from voice_worker.realtime.conversation import Conversation
from voice_worker.realtime.items import user_words
from voice_worker.realtime.response_request import response_request


class RepliesAhead:
    def __init__(
        self, conversation: Conversation, config: Callable[[], RealtimeConfig], enabled: bool
    ) -> None:
        self.conversation, self.config, self.enabled = conversation, config, enabled
        self._by_task: dict[asyncio.Task[Heard], Speculation] = {}

    def early(self, task: asyncio.Task[Heard]) -> None:
        """An early transcription began: once it is done, the reply may be written."""
        if self.enabled and self.conversation.context is not None:
            task.add_done_callback(self._heard)

    def discarded(self, task: asyncio.Task[Heard]) -> None:
        """The early transcript will not be used: its reply is dropped."""
        speculation = self._by_task.pop(task, None)
        if speculation is not None:
            speculation.cancel()

    def _heard(self, task: asyncio.Task[Heard]) -> None:
        context, config = self.conversation.context, self.config()
        if context is None or task.cancelled() or task.exception() is not None:
            return
        vad = config.turn_detection
        if vad is None or not vad.create_response:
            return  # no response starts by itself at the turn's end
        running = self.conversation.response
        if running is not None and running.active:
            return  # it would wait for the next response; the model is busy anyway
        words = self._waiting()
        if words is None:
            return
        heard = task.result()
        text = heard.transcript.text.strip()
        try:
            said = user_words([*words, (text, heard)])
        except VoiceError:
            return
        if not isinstance(said, Heard):
            return
        try:
            options = response_request(config).options
        except VoiceError:
            return
        speculation = context.engine.speculate(context.record, said, options)
        if speculation is not None:
            self._by_task[task] = speculation
            while len(self._by_task) > 4:  # tasks the input buffer took without a response
                del self._by_task[next(iter(self._by_task))]

    def _waiting(self) -> list[tuple[str, Heard | None]] | None:
        """The words of the user items waiting for a response (None: one is still being
        transcribed), as a response will read them."""
        words: list[tuple[str, Heard | None]] = []
        for item in self.conversation.pending:
            if item.heard is None:
                words.append((item.text or "", None))
                continue
            if not item.heard.done() or item.heard.cancelled() or item.heard.exception():
                return None
            heard = item.heard.result()
            words.append(("", None) if heard is None else (heard.transcript.text.strip(), heard))
        return words

    def close(self) -> None:
        for speculation in self._by_task.values():
            speculation.cancel()
        self._by_task.clear()
