"""The correlation id that follows one user action through HTTP, gRPC and events."""

from __future__ import annotations

import uuid
from contextvars import ContextVar

import structlog

HTTP_HEADER = "X-Correlation-Id"
GRPC_METADATA_KEY = "x-correlation-id"
EVENT_HEADER = "Correlation-Id"

_current: ContextVar[str | None] = ContextVar("correlation_id", default=None)


def current() -> str | None:
    return _current.get()


def ensure(candidate: str | None = None) -> str:
    """Adopt `candidate` when it looks like an id, else a new one; bind it to the logs."""
    value = candidate if candidate and 0 < len(candidate) <= 128 and candidate.isprintable() else ""
    value = value or str(uuid.uuid4())
    _current.set(value)
    structlog.contextvars.bind_contextvars(correlation_id=value)
    return value


def grpc_metadata() -> tuple[tuple[str, str], ...]:
    """Metadata to send on an outgoing gRPC call so the callee logs the same id."""
    value = current()
    return ((GRPC_METADATA_KEY, value),) if value else ()
