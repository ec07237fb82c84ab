"""Keeping `tts_models` in step with the model server: one ListModels call, the table
replaced in one transaction (models gone from the server go from the table)."""

from __future__ import annotations

from voice_engine.client import SpeechClient
from voice_engine.v1 import tts_pb2 as pb
from voice_worker.store.base import ChatStore, TTSModelRecord


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
