"""`GET /healthz` (the process answers), `GET /readyz` (the speech provider and the
session store are ready; cache state), `GET /metrics` (Prometheus' text format, every
worker process in one scrape) and `GET /debug/counters` (this process's counters as
JSON, for a person looking at one worker)."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from voice_worker.health.probe import HealthProbe
from voice_worker.http.responses import TEXT
from voice_worker.observability import exposition


def health(request: Request) -> HealthProbe:
    return cast(HealthProbe, request.app.state.health)


HealthDep = Annotated[HealthProbe, Depends(health)]
router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    responses={503: {"description": "Not ready: the body says which part is not."}},
)
async def readyz(health: HealthDep) -> JSONResponse:
    ready, body = await health.readiness()
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"description": "Prometheus' text format.", "content": TEXT}},
)
async def metrics() -> Response:
    return Response(exposition.render(), media_type=exposition.CONTENT_TYPE)


@router.get("/debug/counters")
async def counters(health: HealthDep) -> dict[str, object]:
    return health.counters()
