"""The worker's one HTTP error table: domain error -> status and OpenAI's error `type`.

Every error leaves in OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`:
domain errors by this table (with `Retry-After` when the error says when to retry),
validation errors as 400 naming the offending parameter, anything unexpected as a 500
that says only that and the request ID (the log has the rest)."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from voice_worker.errors import (
    Busy,
    Conflict,
    InProgress,
    InvalidRequest,
    KeyReused,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    UpstreamError,
    UpstreamFailed,
    UpstreamTimeout,
    UpstreamUnavailable,
    VoiceError,
)
from voice_worker.http.responses import allowed_methods
from voice_worker.observability import metrics

log = logging.getLogger(__name__)

#: the table: the most specific class of an error picks its row
HTTP_STATUS: dict[type[VoiceError], tuple[int, str]] = {
    InvalidRequest: (400, "invalid_request_error"),
    PayloadTooLarge: (413, "invalid_request_error"),
    NotFound: (404, "not_found_error"),
    InProgress: (409, "conflict_error"),
    KeyReused: (422, "invalid_request_error"),
    Conflict: (409, "conflict_error"),
    RateLimited: (429, "rate_limit_error"),
    Busy: (503, "server_busy"),
    UpstreamFailed: (502, "upstream_error"),
    UpstreamUnavailable: (503, "upstream_error"),
    UpstreamTimeout: (504, "upstream_error"),
}
_FALLBACK = (500, "server_error")


def http_status(error: VoiceError) -> tuple[int, str]:
    """(status, OpenAI error type) of a domain error."""
    for kind in type(error).__mro__:
        row = HTTP_STATUS.get(kind)
        if row is not None:
            return row
    return _FALLBACK


def _observe(error: VoiceError, status: int) -> None:
    """Every domain error answered passes here (a response or an error event)."""
    provider = error.provider if isinstance(error, UpstreamError) else None
    metrics.observe_error(status, error.code, provider, isinstance(error, Busy))


def error_body(error: VoiceError) -> dict[str, object]:
    status, type_ = http_status(error)
    _observe(error, status)
    return {
        "error": {"message": error.message, "type": type_, "param": error.param, "code": error.code}
    }


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


def voice_error_response(error: VoiceError) -> JSONResponse:
    status, type_ = http_status(error)
    _observe(error, status)
    headers = {}
    if error.retry_after is not None:
        headers["Retry-After"] = str(max(1, math.ceil(error.retry_after)))
    elif status == 503:
        headers["Retry-After"] = "1"
    if status >= 500:
        log.warning("request failed", extra={"status": status, "error": error.message})
    return error_response(status, error.message, type_, error.param, error.code, headers)


async def _voice_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, VoiceError)
    return voice_error_response(exc)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    if first.get("type") == "json_invalid":  # e.g. a lone surrogate escape, a cut body
        reason = (first.get("ctx") or {}).get("error", "it does not parse")
        message = f"the request body is not valid JSON: {reason}"
        return error_response(400, message, code="invalid_json")
    location = [
        str(part) for part in first.get("loc", ()) if part not in ("body", "query", "header")
    ]
    param = ".".join(location) or None
    message = first.get("msg", "invalid request")
    if param:
        message = f"{param}: {message}"
    return error_response(400, message, param=param, code="invalid_value")


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    type_ = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
    headers = dict(exc.headers or {})
    if exc.status_code == 405:  # every method of the path, not only the first route's
        allowed = allowed_methods(request.app.openapi(), request.url.path)
        headers["Allow"] = ", ".join(allowed) if allowed else headers.get("Allow", "")
    return error_response(exc.status_code, str(exc.detail), type_, headers=headers)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    state = request.scope.get("state") or {}
    request_id = str(state.get("request_id") or "")
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
