"""Who issued the caller's certificate. The mutual TLS port trusts two CAs, the platform's (for
platform services) and the administrations' (for back offices); a certificate's common name means
something only together with its issuer: an administrations' CA certificate named "identity" is
no identity service, and a platform certificate is no administration."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Literal, TypeVar

import grpc
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import Encoding

from guichet_kit.domain import Unauthenticated
from guichet_kit.errors import service_error
from guichet_kit.i18n import Catalog

_ = Catalog("guichet_authentic_data")

Authority = Literal["platform", "administrations"]
Context = grpc.aio.ServicerContext[Any, Any]


class Authorities:
    def __init__(self, platform_ca: Path, administrations_ca: Path) -> None:
        self._cas: dict[Authority, x509.Certificate] = {
            "platform": x509.load_pem_x509_certificate(platform_ca.read_bytes()),
            "administrations": x509.load_pem_x509_certificate(administrations_ca.read_bytes()),
        }

    def bundle(self) -> bytes:
        """Both CAs, as the mutual TLS port's client CA list."""
        return b"".join(ca.public_bytes(Encoding.PEM) for ca in self._cas.values())

    def issued_by(self, authority: Authority, pem: bytes) -> bool:
        try:
            certificate = x509.load_pem_x509_certificate(pem)
            certificate.verify_directly_issued_by(self._cas[authority])
        except (ValueError, TypeError, InvalidSignature):
            return False
        return True


def peer_certificate(context: Context | None) -> bytes | None:
    if context is None:
        return None
    certificates = list(context.auth_context().get("x509_pem_cert") or [])
    return certificates[0] if certificates else None


S = TypeVar("S")
Handler = Callable[[S, Any, Context], Awaitable[Any]]


def issued_by(authority: Authority) -> Callable[[Handler[S]], Handler[S]]:
    """Put on top of `@rpc`: a caller whose certificate another CA issued is refused before the
    declaration admits it by its common name. A call without a certificate is left to the
    declaration, which says a certificate is needed."""

    def wrap(handler: Handler[S]) -> Handler[S]:
        @functools.wraps(handler)
        async def checked(self: S, request: Any, context: Context) -> Any:
            pem = peer_certificate(context)
            authorities: Authorities = self.authorities  # type: ignore[attr-defined]
            if pem is not None and not authorities.issued_by(authority, pem):
                raise service_error(
                    Unauthenticated(
                        "CERTIFICATE_ISSUER_REFUSED",
                        _("This certificate's issuer may not call this service."),
                    )
                )
            return await handler(self, request, context)

        return checked

    return wrap
