"""Outgoing gRPC calls: every call carries the correlation id and a deadline."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

from guichet_kit import auth, correlation
from guichet_kit.i18n import LANGUAGE_METADATA_KEY, current_language


class _CallDefaults(grpc.aio.UnaryUnaryClientInterceptor):
    def __init__(self, timeout: float) -> None:
        self._timeout = timeout

    async def intercept_unary_unary(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Any],
        details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        metadata = grpc.aio.Metadata(
            *(details.metadata or ()),
            *correlation.grpc_metadata(),
            *auth.forwarded_metadata(),
            (LANGUAGE_METADATA_KEY, current_language().value),
        )
        details = grpc.aio.ClientCallDetails(
            method=details.method,
            timeout=details.timeout if details.timeout is not None else self._timeout,
            metadata=metadata,
            credentials=details.credentials,
            wait_for_ready=details.wait_for_ready,
        )
        return await continuation(details, request)


def insecure_channel(address: str, *, timeout: float) -> grpc.aio.Channel:
    """A channel on a trusted internal network (loopback in development)."""
    return grpc.aio.insecure_channel(address, interceptors=[_CallDefaults(timeout)])


def mutual_tls_channel(
    address: str, *, ca: bytes, certificate: bytes, private_key: bytes, timeout: float
) -> grpc.aio.Channel:
    credentials = grpc.ssl_channel_credentials(
        root_certificates=ca, private_key=private_key, certificate_chain=certificate
    )
    return grpc.aio.secure_channel(address, credentials, interceptors=[_CallDefaults(timeout)])
