"""Receipts of eDelivery (F64) as the sending administration keeps them: a compact JWS sealed with
the platform's seal key (DESIGN §3). The header carries the seal certificate and its chain (x5c),
so a receipt is verified offline against the published platform CA, with any JWS library.

RS keys sign PS256, EC keys ES256: the algorithm follows the seal key, never the caller.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from guichet_messaging.edelivery.models import Delivery, ReceiptKind

# What the receipt's header calls itself: a verifier can tell it from any other JWS of the platform.
RECEIPT_TYPE = "guichet-edelivery-receipt+jwt"


@dataclass(frozen=True, slots=True)
class ReceiptClaims:
    receipt_id: uuid.UUID
    kind: ReceiptKind
    issued_at: datetime


def _der_base64(certificate: x509.Certificate) -> str:
    return base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()


def _spki(key: Any) -> bytes:
    return bytes(
        key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def _pem_certificates(path: Path) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(path.read_bytes())


class ReceiptSealer:
    """Loaded once per process; `seal` is cheap enough (one RSA-PSS signature) to run inline."""

    def __init__(
        self,
        certificate: Path,
        private_key: Path,
        chain: tuple[Path, ...] = (),
        passphrase: bytes | None = None,
    ) -> None:
        key = serialization.load_pem_private_key(private_key.read_bytes(), passphrase)
        if isinstance(key, rsa.RSAPrivateKey):
            self.algorithm = "PS256"
        elif isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1":
            self.algorithm = "ES256"
        else:
            raise ValueError(f"the seal key {private_key} is neither RSA nor EC P-256")
        certificates = _pem_certificates(certificate)
        for path in chain:
            certificates.extend(_pem_certificates(path))
        if not certificates:
            raise ValueError(f"no certificate in {certificate}")
        if _spki(certificates[0].public_key()) != _spki(key.public_key()):
            raise ValueError(f"the seal key {private_key} is not the key of {certificate}")
        self._key = key
        self._x5c = [_der_base64(each) for each in certificates]

    def seal(self, delivery: Delivery, claims: ReceiptClaims) -> str:
        payload: dict[str, Any] = {
            "jti": str(claims.receipt_id),
            "iss": "openguichet",
            "iat": int(claims.issued_at.timestamp()),
            "receipt": claims.kind.value,
            "issued_at": claims.issued_at.isoformat(),
            "delivery": {
                "id": str(delivery.id),
                "delivery_id": delivery.delivery_id,
                "administration": delivery.administration,
                "addressee": delivery.addressee,
                "title": delivery.title,
                "file_name": delivery.file_name,
                "content_type": delivery.content_type,
                "size": delivery.size,
                "sha256": delivery.sha256,
                "delivered_at": delivery.delivered_at.isoformat(),
            },
        }
        if claims.kind is ReceiptKind.READ and delivery.read_at is not None:
            # When the person opened it, which the sealing may follow by a moment.
            payload["read_at"] = delivery.read_at.isoformat()
        return jwt.encode(
            payload,
            self._key,
            algorithm=self.algorithm,
            headers={"typ": RECEIPT_TYPE, "x5c": self._x5c},
        )
