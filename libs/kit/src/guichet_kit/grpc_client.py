"""Outgoing gRPC calls: every call carries the correlation id and a deadline."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import grpc

from guichet_kit import auth, correlation, tracing
from guichet_kit.i18n import LANGUAGE_METADATA_KEY, current_language

# Streams carry files: their deadline covers a whole transfer, not one exchange.
STREAM_TIMEOUT_SECONDS = 900.0


def call_metadata() -> tuple[tuple[str, str], ...]:
    """What every outgoing call carries: the correlation id, the trace context, the caller and its
    acting context, the language (also for calls made outside the kit's channels, e.g. threaded
    uploads)."""
    return (
        *correlation.grpc_metadata(),
        *tracing.grpc_metadata(),
        *auth.forwarded_metadata(),
        (LANGUAGE_METADATA_KEY, current_language().value),
    )


def _with_defaults(
    details: grpc.aio.ClientCallDetails, timeout: float
) -> grpc.aio.ClientCallDetails:
    metadata = grpc.aio.Metadata(*(details.metadata or ()), *call_metadata())
    return grpc.aio.ClientCallDetails(
        method=details.method,
        timeout=details.timeout if details.timeout is not None else timeout,
        metadata=metadata,
        credentials=details.credentials,
        wait_for_ready=details.wait_for_ready,
    )


class _CallDefaults(grpc.aio.UnaryUnaryClientInterceptor):
    def __init__(self, timeout: float) -> None:
        self._timeout = timeout

    async def intercept_unary_unary(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Any],
        details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        return await continuation(_with_defaults(details, self._timeout), request)


class _UploadDefaults(grpc.aio.StreamUnaryClientInterceptor):
    """The same correlation, caller and language for client-streamed calls (uploads). One class
    per kind: a channel files an interceptor under the first kind it is an instance of."""

    async def intercept_stream_unary(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Any],
        details: grpc.aio.ClientCallDetails,
        request_iterator: Any,
    ) -> Any:
        return await continuation(_with_defaults(details, STREAM_TIMEOUT_SECONDS), request_iterator)


class _DownloadDefaults(grpc.aio.UnaryStreamClientInterceptor):
    """The same for reply-streamed calls (downloads)."""

    async def intercept_unary_stream(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Any],
        details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        return await continuation(_with_defaults(details, STREAM_TIMEOUT_SECONDS), request)


# Calls, not connections, are spread over the addresses a name resolves to: `dns:///<name>:<port>`
# of a headless Service gives one address per pod (Kubernetes), and every call goes to the next.
# One address (development) behaves as before. The servers close connections after a while
# (grpc_server.CONNECTION_AGE_SECONDS), so the name is resolved again and new pods are used.
CHANNEL_OPTIONS: tuple[tuple[str, str], ...] = (
    ("grpc.service_config", json.dumps({"loadBalancingConfig": [{"round_robin": {}}]})),
)


def _interceptors(timeout: float) -> list[grpc.aio.ClientInterceptor]:
    return [_CallDefaults(timeout), _UploadDefaults(), _DownloadDefaults()]


def insecure_channel(address: str, *, timeout: float) -> grpc.aio.Channel:
    """A channel on a trusted internal network (loopback in development)."""
    return grpc.aio.insecure_channel(
        address, options=CHANNEL_OPTIONS, interceptors=_interceptors(timeout)
    )


def mutual_tls_channel(
    address: str, *, ca: bytes, certificate: bytes, private_key: bytes, timeout: float
) -> grpc.aio.Channel:
    credentials = grpc.ssl_channel_credentials(
        root_certificates=ca, private_key=private_key, certificate_chain=certificate
    )
    return grpc.aio.secure_channel(
        address, credentials, options=CHANNEL_OPTIONS, interceptors=_interceptors(timeout)
    )
