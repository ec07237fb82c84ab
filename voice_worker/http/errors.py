"""Every error leaves in OpenAI's shape, `{"error": {"message", "type", "param",
"code"}}`: our domain errors with their status, validation errors as 400 with the
offending parameter, anything unexpected as a 500 that says only that (and logs)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from voice_worker.errors import VoiceError

log = logging.getLogger(__name__)


def error_response(
    status: int,
    message: str,
    type_: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


async def _voice_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, VoiceError)
    if exc.status >= 500:
        log.warning("upstream error", extra={"status": exc.status, "error": exc.message})
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    location = [str(part) for part in first.get("loc", ()) if part not in ("body", "query")]
    param = ".".join(location) or None
    message = first.get("msg", "invalid request")
    if param:
        message = f"{param}: {message}"
    return error_response(400, message, param=param, code="invalid_value")


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    type_ = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
    return error_response(exc.status_code, str(exc.detail), type_, headers=exc.headers)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    request_id = str(getattr(request.state, "request_id", "") or "")
    log.error("unhandled error", exc_info=exc, extra={"request_id": request_id})
    return error_response(
        500,
        f"internal error in the voice worker (request {request_id or 'unknown'})",
        "server_error",
        headers={"x-request-id": request_id} if request_id else None,
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(VoiceError, _voice_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
