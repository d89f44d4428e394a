"""A receipt verifies offline, with another JWS library, against the platform CA alone — and an
altered one does not."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec
from jwcrypto import jwk, jws

from guichet_messaging.edelivery.models import Delivery, ReceiptKind
from guichet_messaging.edelivery.receipts import RECEIPT_TYPE, ReceiptClaims, ReceiptSealer
from guichet_testkit.pki import development_pki

# Now, not a fixed day: the development PKI is made at `make infra` time, so its certificates
# begin today and a fixed instant could fall before them on a fresh machine.
WHEN = datetime.now(UTC).replace(microsecond=0)


def _delivery() -> Delivery:
    return Delivery(
        id=uuid.uuid4(),
        administration="ccss",
        delivery_id="decision-2026-0042",
        addressee="1985010112345",
        title="Décision d'affiliation",
        file_name="decision.pdf",
        content_type="application/pdf",
        size=1234,
        sha256="ab" * 32,
        piece_id=uuid.uuid4(),
        delivered_at=WHEN,
    )


def _verify_offline(token: str, platform_ca: Path) -> dict[str, object]:
    """What an administration does with nothing but the published CA: the chain in x5c up to the
    CA, then the signature with the seal certificate's key."""
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    chain = [x509.load_der_x509_certificate(base64.b64decode(each)) for each in header["x5c"]]
    anchor = x509.load_pem_x509_certificate(platform_ca.read_bytes())
    for certificate, issuer in zip(chain, [*chain[1:], anchor], strict=True):
        certificate.verify_directly_issued_by(issuer)  # raises when not
        assert certificate.not_valid_before_utc <= WHEN <= certificate.not_valid_after_utc
    key = jwk.JWK.from_pyca(chain[0].public_key())
    signed = jws.JWS()
    signed.deserialize(token)
    signed.verify(key, alg=header["alg"])  # raises InvalidJWSSignature when not
    assert header["typ"] == RECEIPT_TYPE
    payload: dict[str, object] = json.loads(signed.payload)
    return payload


@pytest.fixture(scope="module")
def sealer() -> ReceiptSealer:
    pki = development_pki()
    return ReceiptSealer(pki / "seal" / "platform-seal.crt", pki / "seal" / "platform-seal.key")


def test_a_receipt_verifies_against_the_platform_ca(sealer: ReceiptSealer) -> None:
    delivery = _delivery()
    receipt_id = uuid.uuid4()
    token = sealer.seal(delivery, ReceiptClaims(receipt_id, ReceiptKind.DELIVERED, WHEN))

    payload = _verify_offline(token, development_pki() / "ca.crt")

    assert payload["jti"] == str(receipt_id)
    assert payload["receipt"] == "delivered"
    assert payload["issued_at"] == WHEN.isoformat()
    assert payload["delivery"] == {
        "id": str(delivery.id),
        "delivery_id": "decision-2026-0042",
        "administration": "ccss",
        "addressee": "1985010112345",
        "title": "Décision d'affiliation",
        "file_name": "decision.pdf",
        "content_type": "application/pdf",
        "size": 1234,
        "sha256": "ab" * 32,
        "delivered_at": WHEN.isoformat(),
    }


@pytest.mark.parametrize("part", [1, 2], ids=["payload", "signature"])
def test_one_changed_byte_fails_the_check(sealer: ReceiptSealer, part: int) -> None:
    token = sealer.seal(_delivery(), ReceiptClaims(uuid.uuid4(), ReceiptKind.READ, WHEN))
    parts = token.split(".")
    # The middle character of the part: its bits all belong to the part (unlike the last one's).
    middle = len(parts[part]) // 2
    changed = "B" if parts[part][middle] != "B" else "C"
    parts[part] = parts[part][:middle] + changed + parts[part][middle + 1 :]

    with pytest.raises(jws.InvalidJWSSignature):
        _verify_offline(".".join(parts), development_pki() / "ca.crt")


def test_a_receipt_does_not_verify_against_another_ca(sealer: ReceiptSealer) -> None:
    token = sealer.seal(_delivery(), ReceiptClaims(uuid.uuid4(), ReceiptKind.UNREAD, WHEN))

    with pytest.raises((ValueError, InvalidSignature)):  # the chain is not of that CA
        _verify_offline(token, development_pki() / "rogue" / "ca.crt")


def test_a_seal_key_not_of_the_certificate_is_refused(tmp_path: Path) -> None:
    pki = development_pki()
    with pytest.raises(ValueError, match="is not the key of"):
        ReceiptSealer(pki / "seal" / "platform-seal.crt", pki / "services" / "messaging.key")


def test_the_algorithm_follows_the_key(sealer: ReceiptSealer) -> None:
    assert sealer.algorithm in ("PS256", "ES256")
    key = x509.load_pem_x509_certificate(
        (development_pki() / "seal" / "platform-seal.crt").read_bytes()
    ).public_key()
    assert sealer.algorithm == ("ES256" if isinstance(key, ec.EllipticCurvePublicKey) else "PS256")
