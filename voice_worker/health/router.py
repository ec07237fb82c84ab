"""`GET /healthz` (the process answers), `GET /readyz` (the model server answers its
gRPC health check, the session store answers a query; cache state) and `GET /metrics`
(counters as JSON)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from voice_worker.deps import ServicesDep
from voice_worker.services import Services
from voice_worker.store.base import ChatStore

STORE_PING_SECONDS = 2.0

router = APIRouter(tags=["health"])


def cache_state(services: Services) -> dict[str, object]:
    state = getattr(services.cache, "state", None)
    return state() if state is not None else {"backend": services.cache.name}


def counters(services: Services) -> dict[str, object]:
    return {
        "speech": services.speech.state(),
        "transcription": services.transcription.state(),
        "cache": cache_state(services),
    }


async def store_state(store: ChatStore) -> dict[str, object]:
    """Whether the session store answers; the reason (its type and first line, never
    the URL, which may hold a password) when it does not."""
    try:
        await asyncio.wait_for(store.ping(), STORE_PING_SECONDS)
    except Exception as exc:
        reason = (str(exc).splitlines() or [""])[0][:200]
        return {"ready": False, "detail": f"{type(exc).__name__}: {reason}"}
    return {"ready": True}


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(services: ServicesDep) -> JSONResponse:
    ready_check = getattr(services.tts, "ready", None)
    ready, detail = (await ready_check()) if ready_check is not None else (True, "no check")
    body: dict[str, object] = {
        "tts": {"provider": services.tts.name, "ready": ready, "detail": detail},
        "stt": {"provider": services.stt.name},
        **counters(services),
    }
    store = services.extensions.get("store")
    if store is not None:
        body["store"] = state = await store_state(store)
        ready = ready and bool(state["ready"])
    body = {"status": "ready" if ready else "not ready", **body}
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics")
async def metrics(services: ServicesDep) -> dict[str, object]:
    return counters(services)
