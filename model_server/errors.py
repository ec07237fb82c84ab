"""The model server's domain errors. Each carries what a client program needs: a
`reason` (voice_contract.reasons.Reason) and, when one request field is at fault, that
`field`. The gRPC servicer turns them into status codes with rich details through its
one table (model_server/status.py); nothing else knows about gRPC."""

from __future__ import annotations

from typing import ClassVar

from shared.speakable import TextIssue, TextRejected
from voice_contract.reasons import Reason


class SpeechError(Exception):
    """Base of the errors a request can meet; `message` is for people."""

    default_reason: ClassVar[Reason] = Reason.INTERNAL

    def __init__(self, message: str, *, reason: Reason | None = None, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.field = field


class InvalidRequestError(SpeechError):
    """The request is malformed: a field out of range, text that cannot be spoken."""


class NotFoundError(SpeechError):
    """The model or voice does not exist; the message lists the valid names."""


class OverloadedError(SpeechError):
    """More requests are in flight than the server admits; retry shortly."""

    default_reason = Reason.SERVER_BUSY


class ModelBusyError(SpeechError):
    """Unload asked for while requests hold the model."""

    default_reason = Reason.MODEL_BUSY


class BackendError(SpeechError):
    """The engine failed on a valid request (loading or synthesizing); the message says
    which model, the log has the cause."""

    default_reason = Reason.MODEL_FAILED


_TEXT_REASONS = {
    TextIssue.EMPTY: Reason.TEXT_EMPTY,
    TextIssue.TOO_LONG: Reason.TEXT_TOO_LONG,
    TextIssue.CONTROL_CHARACTER: Reason.TEXT_CONTROL_CHARACTER,
    TextIssue.NOT_SPEAKABLE: Reason.TEXT_NOT_SPEAKABLE,
}


def text_error(exc: TextRejected) -> InvalidRequestError:
    return InvalidRequestError(exc.message, reason=_TEXT_REASONS[exc.issue], field="text")
