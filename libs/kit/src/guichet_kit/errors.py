"""The one translation of refusals into gRPC statuses: a status code plus a machine-readable reason.

Rules raise `guichet_kit.domain.DomainError`s; `service_error` maps each kind of refusal to a status
code here and nowhere else. The reason travels as `google.rpc.ErrorInfo` and field errors as
`google.rpc.BadRequest` in the rich status, so the gateway can build an RFC 9457 problem without
parsing messages. Messages are rendered in the caller's language on the way out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from guichet_kit.domain import (
    Aborted,
    AlreadyExists,
    Conflict,
    DomainError,
    Exhausted,
    FieldError,
    Forbidden,
    InvalidInput,
    NotFound,
    Refusal,
)
from guichet_kit.i18n import Text, render

__all__ = [
    "FieldError",
    "RpcFailure",
    "ServiceError",
    "read_rpc_failure",
    "relayed_refusal",
    "service_error",
]

ERROR_DOMAIN = "openguichet"
# An error message never echoes unbounded input: longer texts are cut.
MAX_MESSAGE_LENGTH = 300

STATUS_OF: Mapping[Refusal, grpc.StatusCode] = {
    Refusal.INVALID: grpc.StatusCode.INVALID_ARGUMENT,
    Refusal.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    Refusal.FORBIDDEN: grpc.StatusCode.PERMISSION_DENIED,
    Refusal.CONFLICT: grpc.StatusCode.FAILED_PRECONDITION,
    Refusal.ABORTED: grpc.StatusCode.ABORTED,
    Refusal.ALREADY_EXISTS: grpc.StatusCode.ALREADY_EXISTS,
    Refusal.UNAUTHENTICATED: grpc.StatusCode.UNAUTHENTICATED,
    Refusal.EXHAUSTED: grpc.StatusCode.RESOURCE_EXHAUSTED,
    Refusal.UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
}


def _bounded(text: Text | str) -> str:
    rendered = render(text)
    return rendered if len(rendered) <= MAX_MESSAGE_LENGTH else rendered[:MAX_MESSAGE_LENGTH] + "…"


@dataclass
class ServiceError(Exception):
    code: grpc.StatusCode
    reason: str
    message: Text | str
    field_errors: list[FieldError] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.reason}: {self.message}"

    def to_status(self) -> grpc.Status:
        info = any_pb2.Any()
        info.Pack(
            error_details_pb2.ErrorInfo(
                reason=self.reason, domain=ERROR_DOMAIN, metadata=self.metadata
            )
        )
        details = [info]
        if self.field_errors:
            bad_request = any_pb2.Any()
            bad_request.Pack(
                error_details_pb2.BadRequest(
                    field_violations=[
                        error_details_pb2.BadRequest.FieldViolation(
                            field=error.field,
                            reason=error.reason,
                            description=_bounded(error.message),
                        )
                        for error in self.field_errors
                    ]
                )
            )
            details.append(bad_request)
        code_value: int = self.code.value[0]
        status: grpc.Status = rpc_status.to_status(
            status_pb2.Status(code=code_value, message=_bounded(self.message), details=details)
        )
        return status


def service_error(error: DomainError) -> ServiceError:
    """The status a refusal of the rules leaves the service as."""
    return ServiceError(
        STATUS_OF[error.refusal], error.reason, error.message, error.fields, error.metadata
    )


@dataclass(frozen=True)
class RpcFailure:
    """What a caller learns from a failed call: code, reason, message and field errors."""

    code: grpc.StatusCode
    reason: str
    message: str
    field_errors: list[FieldError]
    metadata: dict[str, str] = field(default_factory=dict)


def read_rpc_failure(error: grpc.aio.AioRpcError) -> RpcFailure:
    reason = ""
    metadata: dict[str, str] = {}
    fields: list[FieldError] = []
    for key, value in error.trailing_metadata() or ():
        if key != "grpc-status-details-bin" or not isinstance(value, bytes):
            continue
        status = status_pb2.Status.FromString(value)
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                reason = info.reason
                metadata = dict(info.metadata)
            elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                fields.extend(
                    FieldError(v.field, v.reason or "invalid", v.description)
                    for v in bad.field_violations
                )
    code = error.code()
    return RpcFailure(code, reason or code.name, error.details() or "", fields, metadata)


# Refusals of another service a caller passes on as its own (a virus found by the wallet is the
# person's refusal); any other status — an outage, a credential the other side refuses, a bug —
# is the caller's own "unavailable".
_RELAYED: Mapping[grpc.StatusCode, type[DomainError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidInput,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.PERMISSION_DENIED: Forbidden,
    grpc.StatusCode.FAILED_PRECONDITION: Conflict,
    grpc.StatusCode.ABORTED: Aborted,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.RESOURCE_EXHAUSTED: Exhausted,
}


def relayed_refusal(error: Any, unavailable: DomainError) -> DomainError:
    """Another service's refusal as the caller's own (same kind, reason, message, field errors
    and metadata), or `unavailable` when it is not a refusal. Reads an aio error or a threaded
    call's error alike."""
    kind = _RELAYED.get(error.code())
    if kind is None:
        return unavailable
    failure = read_rpc_failure(error)
    return kind(failure.reason, failure.message, failure.field_errors, failure.metadata)
