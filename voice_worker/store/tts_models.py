"""Keeping `tts_models` in step with the model server: one ListModels call, the table
replaced in one transaction (models gone from the server go from the table); at
start-up, then every `interval` seconds while the worker runs."""

from __future__ import annotations

import asyncio
import logging

import grpc

from voice_engine.client import SpeechClient
from voice_engine.v1 import tts_pb2 as pb
from voice_worker.store.base import ChatStore, TTSModelRecord

log = logging.getLogger(__name__)


async def sync_tts_models(store: ChatStore, target: str, timeout: float = 5.0) -> int:
    """Mirror the model server at `target` (host:port); the number of models."""
    async with SpeechClient(target, timeout=timeout) as client:
        reply = await client.stub.ListModels(pb.ListModelsRequest(), timeout=timeout)
    models = [
        TTSModelRecord(
            name=m.name,
            backend=m.backend,
            sample_rate=m.sample_rate,
            is_default=m.is_default,
            state=pb.ModelState.Name(m.state),
        )
        for m in reply.models
    ]
    await store.replace_tts_models(models)
    return len(models)


async def try_sync(store: ChatStore, target: str) -> None:
    """One sync; a model server that is down is logged, not raised."""
    try:
        count = await sync_tts_models(store, target)
        log.debug("tts models synced", extra={"models": count})
    except grpc.aio.AioRpcError as exc:
        log.warning("tts models not synced", extra={"error": exc.code().name})


async def keep_synced(store: ChatStore, target: str, interval: float) -> None:
    """Sync every `interval` seconds until cancelled."""
    while True:
        await asyncio.sleep(interval)
        await try_sync(store, target)
