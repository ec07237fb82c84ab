"""The model server's one error table: domain error -> gRPC status code, sent with
rich details (an ErrorInfo reason, and a BadRequest field violation when one field is
at fault; voice_contract.errors). Anything else is a bug: logged with its traceback and
answered INTERNAL with the request ID, never with a Python class or a message meant
for the operator."""

from __future__ import annotations

import logging

import grpc

from model_server.errors import (
    BackendError,
    InvalidRequestError,
    ModelBusyError,
    NotFoundError,
    OverloadedError,
    SpeechError,
)
from shared.logs import request_id_var
from voice_contract.errors import rich_status
from voice_contract.reasons import Reason

log = logging.getLogger(__name__)

#: the table; a SpeechError subclass not listed here is INTERNAL
STATUS_CODES: dict[type[SpeechError], grpc.StatusCode] = {
    InvalidRequestError: grpc.StatusCode.INVALID_ARGUMENT,
    NotFoundError: grpc.StatusCode.NOT_FOUND,
    OverloadedError: grpc.StatusCode.RESOURCE_EXHAUSTED,
    ModelBusyError: grpc.StatusCode.FAILED_PRECONDITION,
    BackendError: grpc.StatusCode.INTERNAL,
}


def status_code(exc: SpeechError) -> grpc.StatusCode:
    for kind in type(exc).__mro__:
        if kind in STATUS_CODES:
            return STATUS_CODES[kind]
    return grpc.StatusCode.INTERNAL


def to_status(exc: Exception) -> grpc.Status:
    """The status a failed call ends with."""
    if isinstance(exc, SpeechError):
        return rich_status(status_code(exc), exc.message, exc.reason, exc.field)
    request_id = request_id_var.get() or "unknown"
    log.error("unexpected error", exc_info=exc)
    return rich_status(
        grpc.StatusCode.INTERNAL,
        f"internal error in the model server (request {request_id})",
        Reason.INTERNAL,
    )
