"""`VoiceChatEngine`: one turn of a voice conversation, spoken while it is written.

A turn begins (`begin_text`, `begin_audio`, or `hear` then `begin_heard`:
conversation.turn_begin, everything that can be refused before anything is said) and
then runs (`run`): the chat model writes the reply while the voice speaks it, sentence
by sentence, each event reported as it happens (conversation.reply, conversation.
events). The turn is stored only once the reply is complete and spoken, its two
messages in one transaction (conversation.turn_store), so a failure anywhere (chat,
synthesis, a client that leaves, the process dying) leaves no half turn.
`process_text_only` and `process_message` run the same pipeline and return the whole
turn at once. Errors are the worker's domain errors (voice_worker.errors).

Every turn is for a `Principal`: a session that is not the caller's is NotFound, exactly
as a missing one (SessionManager.get), whatever the transport. One turn of a session
runs at a time across every worker (conversation.turn_lock), from reading its history
to storing it. A turn may differ from its session (`TurnOptions`: another persona,
another output format). A reply the user interrupts is stored as far as it was heard
(`store_interrupted`, then `truncate_reply`). A turn offered the client's functions
ends, when the model calls them, with TurnPaused and is stored once resumed and
answered (conversation.functions; `store_paused` when it is left so)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncGenerator
from dataclasses import replace

from shared.logs import Stopwatch
from voice_worker.auth.principal import Principal
from voice_worker.chat.base import ChatProvider
from voice_worker.chat.cache import ResponseCache
from voice_worker.chat.settings import ChatSettings
from voice_worker.conversation import turn_store
from voice_worker.conversation.events import (
    AudioDelta,
    Transcribed,
    TurnDone,
    TurnEvent,
    TurnPaused,
)
from voice_worker.conversation.functions import paused_reply
from voice_worker.conversation.idempotency import IdempotencyKeys
from voice_worker.conversation.replay import replay
from voice_worker.conversation.reply import Reply, ReplyWriter, Speaker
from voice_worker.conversation.speculation import Speculation
from voice_worker.conversation.turn import Heard, Turn, TurnOptions, TurnResult
from voice_worker.conversation.turn_begin import TurnStarter
from voice_worker.conversation.turn_lock import TurnLocks
from voice_worker.errors import VoiceError
from voice_worker.observability import metrics
from voice_worker.store.base import ChatStore, MessageRecord, SessionRecord
from voice_worker.stt.base import STTProvider
from voice_worker.tools.loop import ToolRunner

log = logging.getLogger(__name__)


class VoiceChatEngine:
    def __init__(
        self,
        store: ChatStore,
        chat: ChatProvider,
        tts: Speaker,
        settings: ChatSettings,
        stt: STTProvider | None = None,
        response_cache: ResponseCache | None = None,
        keys: IdempotencyKeys | None = None,
        tools: ToolRunner | None = None,
    ) -> None:
        self.store, self.chat, self.tts, self.settings = store, chat, tts, settings
        self.starter = TurnStarter(store, settings, stt=stt, keys=keys)
        self.replies = ReplyWriter(store, chat, tts, settings, response_cache, tools)
        self.turn_locks = TurnLocks(store, settings.turn_lease_seconds, settings.turn_wait_seconds)

    # -- beginning a turn (conversation.turn_begin) ---------------------------------
    def check_text(self, text: str, param: str = "text") -> str:
        """What a user typed, stripped; InvalidRequest when it cannot be a turn."""
        return self.starter.check_text(text, param)

    async def begin_text(
        self,
        session: str | SessionRecord,
        text: str,
        principal: Principal,
        key: str | None = None,
        options: TurnOptions | None = None,
    ) -> Turn:
        return await self.starter.text(session, text, principal, key, options)

    async def begin_audio(
        self,
        session: str | SessionRecord,
        audio: bytes,
        principal: Principal,
        key: str | None = None,
        options: TurnOptions | None = None,
    ) -> Turn:
        return await self.starter.audio(session, audio, principal, key, options)

    async def hear(self, record: SessionRecord, audio: bytes, language: str | None = None) -> Heard:
        """What the user said in `audio`, in `language` (None: the session's)."""
        return await self.starter.hear(record, audio, language)

    def begin_heard(
        self,
        record: SessionRecord,
        heard: Heard,
        options: TurnOptions | None = None,
        watch: Stopwatch | None = None,
    ) -> Turn:
        """The turn of what `hear` heard; refused when it heard no words."""
        return self.starter.heard(record, heard, options, watch)

    # -- a reply written ahead (conversation.speculation) ----------------------------
    def speculate(
        self, record: SessionRecord, heard: Heard, options: TurnOptions | None = None
    ) -> Speculation | None:
        """Write the chat reply to `heard` ahead of the turn's end: a turn of the same
        words, history and options that runs next takes it (None: nothing to write
        ahead). Nothing is stored, sent or spoken; `cancel()` drops it."""
        try:
            turn = self.starter.heard(record, heard, options)
        except VoiceError:
            return None
        return self.replies.speculate(turn)

    # -- running it -------------------------------------------------------------------
    async def run(self, turn: Turn) -> AsyncGenerator[TurnEvent, None]:
        """The turn's events as they happen; the last one, TurnDone, once it is stored
        (a replayed turn: its stored events at once). A turn holding an Idempotency-Key
        renews it while it runs and releases it unless the turn is stored."""
        if turn.replay is not None:
            events = replay(turn.replay)
        elif turn.held is None:
            events = self._run(turn)
        else:
            events = turn.held.kept_until(self._run(turn), stored=_is_done)
        async with contextlib.aclosing(events):
            async for event in events:
                yield event

    async def _run(self, turn: Turn) -> AsyncGenerator[TurnEvent, None]:
        record, user = turn.session, turn.user
        # one turn of a session at a time, across workers: from its history to its storage
        async with self.turn_locks.hold(record.id) as lease:
            if user.transcript is not None and not turn.continued:
                yield Transcribed(user.transcript)
            reply = Reply(turn.speech())
            async with contextlib.aclosing(self.replies.collect(turn, reply)) as events:
                async for event in events:
                    yield event
            if reply.calls:  # the client runs them; the turn goes on with their outputs
                history = (*turn.continued, *reply.tools.history)
                yield TurnPaused(replace(turn, continued=history), tuple(reply.calls))
                return
            result = await turn_store.store_reply(self.store, turn, reply, lease)
        await self.replies.remember(turn, reply)
        log.info("voice turn", extra={"session_id": record.id, "timings": turn.timings})
        metrics.observe_turn(turn.timings, spoken=user.transcript is not None, cached=reply.cached)
        yield TurnDone(result)

    # -- a reply the user interrupted (conversation.turn_store) -----------------------
    async def store_interrupted(
        self, turn: Turn, heard: str, audio_seconds: float
    ) -> tuple[MessageRecord, MessageRecord] | None:
        """Store `turn` with the reply as far as it was heard; nothing when none was."""
        return await turn_store.store_interrupted(self.store, turn, heard, audio_seconds)

    async def store_paused(self, turn: Turn) -> None:
        """A paused turn left so (the client went on, or left): stored as it stands."""
        await turn_store.store_turn(self.store, turn.session.id, turn.user, paused_reply(turn))

    async def truncate_reply(
        self, session_id: str, message_id: int, heard: str, audio_seconds: float
    ) -> None:
        """The stored reply `message_id` cut to what was heard (a player stopped it)."""
        await turn_store.truncate_reply(self.store, session_id, message_id, heard, audio_seconds)

    # -- the whole turn at once -------------------------------------------------------
    async def process_text_only(
        self, session: str | SessionRecord, text: str, principal: Principal
    ) -> TurnResult:
        return await self.collect(await self.begin_text(session, text, principal))

    async def process_message(
        self, session: str | SessionRecord, audio: bytes, principal: Principal
    ) -> TurnResult:
        return await self.collect(await self.begin_audio(session, audio, principal))

    async def collect(self, turn: Turn) -> TurnResult:
        """Run `turn` to its end; the result with its whole audio."""
        audio = bytearray()
        async with contextlib.aclosing(self.run(turn)) as events:
            async for event in events:
                if isinstance(event, AudioDelta):
                    audio += event.audio
                elif isinstance(event, TurnDone):
                    return event.result.with_audio(bytes(audio))
        raise AssertionError("a turn ends with TurnDone")


def _is_done(event: TurnEvent) -> bool:
    return isinstance(event, TurnDone)
