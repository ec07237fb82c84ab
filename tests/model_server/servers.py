"""An in-process model server on a real port, for tests that need its internals."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc

from model_server.server import RunningServer, start
from model_server.settings import Settings
from voice_contract.v1 import tts_pb2_grpc
from voice_contract.wire import channel_options


@dataclass
class Served:
    running: RunningServer
    channel: grpc.aio.Channel
    stub: tts_pb2_grpc.TextToSpeechStub


@contextlib.asynccontextmanager
async def served(**overrides: object) -> AsyncIterator[Served]:
    settings = Settings(**{"port": 0, "metrics_port": 0, **overrides})  # type: ignore[arg-type]
    running = await start(settings)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{running.port}", options=channel_options())
    try:
        yield Served(running, channel, tts_pb2_grpc.TextToSpeechStub(channel))
    finally:
        await channel.close(grace=None)
        await running.stop(grace=0)
