"""Cached chat replies: the key is SHA-256 over the conversation id, the query and the
analyst role (`shared.cache.base.cache_key`); the value the reply as JSON. Stored on
the same `ByteCache` backends as the audio cache (in-memory or Redis)."""

from __future__ import annotations

import json
import logging

from shared.cache.base import ByteCache, cache_key
from voice_worker.chat.base import ChatReply

NAMESPACE = "chat-reply"
log = logging.getLogger(__name__)


class ResponseCache:
    def __init__(self, backend: ByteCache, ttl_seconds: float = 1800.0) -> None:
        self.backend = backend
        self.ttl_seconds = ttl_seconds

    @staticmethod
    def key(conversation_id: str, query: str, analyst_role: str) -> str:
        return cache_key(
            NAMESPACE, conversation_id=conversation_id, query=query, analyst_role=analyst_role
        )

    async def get(self, conversation_id: str, query: str, analyst_role: str) -> ChatReply | None:
        try:
            raw = await self.backend.get(self.key(conversation_id, query, analyst_role))
        except Exception as exc:  # a cache that fails is a miss, never a failed turn
            log.warning("response cache get failed", extra={"error": str(exc)})
            return None
        if raw is None:
            return None
        data = json.loads(raw)
        return ChatReply(data["text"], data.get("thinking", ""), data.get("model", ""))

    async def set(
        self, conversation_id: str, query: str, analyst_role: str, reply: ChatReply
    ) -> None:
        value = json.dumps({"text": reply.text, "thinking": reply.thinking, "model": reply.model})
        try:
            await self.backend.set(
                self.key(conversation_id, query, analyst_role), value.encode(), self.ttl_seconds
            )
        except Exception as exc:
            log.warning("response cache set failed", extra={"error": str(exc)})
