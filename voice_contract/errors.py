"""Rich error details on the wire (google.rpc, as Google APIs send them).

Every error status the model server returns carries an `ErrorInfo` (a machine-readable
`reason` from `voice_contract.reasons.Reason`, domain `voice-engine`) and, when one
request field is at fault, a `BadRequest` field violation naming it. Clients read the
field and the reason from these details (`error_details`), never from the message."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import grpc
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from voice_contract.reasons import Reason
from voice_contract.wire import ERROR_DOMAIN

_DETAILS_KEY = "grpc-status-details-bin"


@dataclass(frozen=True)
class ErrorDetails:
    """What a status's details say (empty strings when it carries none)."""

    reason: str = ""
    field: str = ""
    metadata: Mapping[str, str] = dataclasses.field(default_factory=dict)


def rich_status(
    code: grpc.StatusCode,
    message: str,
    reason: Reason | str,
    field: str = "",
    metadata: Mapping[str, str] | None = None,
) -> grpc.Status:
    """A status with an ErrorInfo and, for a `field`, a BadRequest violation (its
    `trailing_metadata` carries them; see `abort`)."""
    status = status_pb2.Status(code=code.value[0], message=message)
    info = error_details_pb2.ErrorInfo(
        reason=Reason(reason).value if isinstance(reason, Reason) else reason,
        domain=ERROR_DOMAIN,
        metadata=dict(metadata or {}),
    )
    status.details.add().Pack(info)
    if field:
        violation = error_details_pb2.BadRequest.FieldViolation(field=field, description=message)
        status.details.add().Pack(error_details_pb2.BadRequest(field_violations=[violation]))
    return rpc_status.to_status(status)


def error_details(trailing_metadata: Iterable[Any] | None) -> ErrorDetails:
    """The details in a failed call's trailing metadata (`exc.trailing_metadata()`:
    (key, value) pairs)."""
    for key, value in trailing_metadata or ():
        if key == _DETAILS_KEY and isinstance(value, bytes):
            return _parse(status_pb2.Status.FromString(value))
    return ErrorDetails()


def _parse(status: status_pb2.Status) -> ErrorDetails:
    reason, field_name, metadata = "", "", {}
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            reason, metadata = info.reason, dict(info.metadata)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            if bad.field_violations:
                field_name = bad.field_violations[0].field
    return ErrorDetails(reason, field_name, metadata)


async def abort(context: grpc.aio.ServicerContext[Any, Any], status: grpc.Status) -> None:
    """End the call with `status`, its details in the trailing metadata."""
    await context.abort(status.code, status.details, status.trailing_metadata)
