"""`GET /healthz` (the process answers), `GET /readyz` (the model server answers its
gRPC health check; cache state) and `GET /metrics` (counters as JSON)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from voice_worker.deps import ServicesDep
from voice_worker.services import Services

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


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(services: ServicesDep) -> JSONResponse:
    ready_check = getattr(services.tts, "ready", None)
    ready, detail = (await ready_check()) if ready_check is not None else (True, "no check")
    body = {
        "status": "ready" if ready else "not ready",
        "tts": {"provider": services.tts.name, "ready": ready, "detail": detail},
        "stt": {"provider": services.stt.name},
        **counters(services),
    }
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics")
async def metrics(services: ServicesDep) -> dict[str, object]:
    return counters(services)
