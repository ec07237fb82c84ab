"""`GET /healthz` (the process answers), `GET /readyz` (the speech provider and the
session store are ready; cache state) and `GET /metrics` (counters as JSON)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from voice_worker.deps import HealthDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(health: HealthDep) -> JSONResponse:
    ready, body = await health.readiness()
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics")
async def metrics(health: HealthDep) -> dict[str, object]:
    return health.counters()
