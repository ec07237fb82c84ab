"""What every realtime connection shares: the worker's domain objects (the voice chat
engine, the session manager, the transcriber), the settings, the VAD model and the
session claims, the WebRTC calls in progress. Built once at start-up (`build`: the VAD
model, and semantic_vad's smart-turn model where it is installed, load on a thread)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Protocol

from voice_worker.conversation.engine import VoiceChatEngine
from voice_worker.conversation.sessions import SessionManager
from voice_worker.realtime import smart_turn
from voice_worker.realtime.claims import SessionClaims
from voice_worker.realtime.settings import RealtimeSettings
from voice_worker.realtime.vad import SileroModel, shared_model
from voice_worker.tools.settings import ToolsSettings
from voice_worker.transcription.transcriber import Transcriber


class LiveCall(Protocol):
    """A WebRTC call in progress (realtime/webrtc/call.py)."""

    @property
    def owner(self) -> str: ...  # the user whose call it is

    async def end(self) -> None: ...


@dataclass(frozen=True)
class RealtimeServices:
    engine: VoiceChatEngine
    sessions: SessionManager
    transcriber: Transcriber
    settings: RealtimeSettings
    vad: SileroModel
    claims: SessionClaims = field(default_factory=SessionClaims)
    calls: dict[str, LiveCall] = field(default_factory=dict)  # by id
    tools: ToolsSettings = field(default_factory=ToolsSettings)  # session MCP servers

    @classmethod
    async def build(
        cls,
        engine: VoiceChatEngine,
        sessions: SessionManager,
        transcriber: Transcriber,
        settings: RealtimeSettings,
        tools: ToolsSettings | None = None,
    ) -> RealtimeServices:
        vad = await asyncio.to_thread(shared_model)
        if smart_turn.available():  # semantic_vad's model, loaded before a session needs it
            await asyncio.to_thread(smart_turn.shared_model)
        return cls(engine, sessions, transcriber, settings, vad, tools=tools or ToolsSettings())
