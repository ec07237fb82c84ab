"""An unexpected exception is a 500 in OpenAI's shape that still carries the request
ID (header and message), so a user's report can be found in the logs."""

from __future__ import annotations

import httpx
from fastapi import APIRouter, FastAPI

from voice_worker.http import errors
from voice_worker.http.middleware import RequestIdMiddleware


def app_with_a_bug() -> FastAPI:
    app = FastAPI()
    router = APIRouter()

    @router.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    errors.install(app)
    app.include_router(router)
    app.add_middleware(RequestIdMiddleware, access_log=False)
    return app


async def test_unexpected_error_keeps_the_request_id() -> None:
    transport = httpx.ASGITransport(app=app_with_a_bug(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://worker") as client:
        reply = await client.get("/boom", headers={"x-request-id": "report-me-7"})
    assert reply.status_code == 500
    assert reply.headers["x-request-id"] == "report-me-7"
    error = reply.json()["error"]
    assert error["type"] == "server_error"
    assert "report-me-7" in error["message"] and "a bug" not in error["message"]
