"""The applicant's electronic signature of a request (F26).

A procedure whose definition says `signature: required` is submitted only with the acting
person's signature over the answers' SHA-256 digest (the digest printed on the proof, which a
complete draft shows as `answers_sha256`). The signed message is the digest's 32 bytes; the
algorithm hashes them once more with SHA-256, as any signing library does with a message.

The certificate must chain to the national CA (the one of the high-level login), be valid at the
moment of submission, allow signing (key usage digitalSignature or nonRepudiation), and name
the acting person: its subject's serialNumber is the national id, the attribute Keycloak reads
for the X.509 login. Filing for someone else, the person who files signs (they vouch for what
they send); the proof names them as the signer. Each refusal raises before anything is written.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from asn1crypto import x509 as asn1_x509  # type: ignore[import-untyped]
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import (
    ExpiredError,
    NotYetValidError,
    PathBuildingError,
    PathValidationError,
    ValidationError,
)

from guichet_kit.auth import Principal
from guichet_kit.domain import Conflict, FieldError, Forbidden, InvalidInput, Unavailable
from guichet_kit.i18n import Catalog
from guichet_procedures.definitions.model import Definition
from guichet_procedures.requests.proof import Signer

_ = Catalog("guichet_procedures")

ALGORITHMS = ("rsa-pss-sha256", "rsa-pkcs1v15-sha256", "ecdsa-sha256")
MAX_CERTIFICATE_BYTES = 16 * 1024
MAX_CHAIN = 4
MAX_VALUE_BYTES = 1024  # an RSA-8192 signature is 1 KiB


@dataclass(frozen=True)
class SignatureInput:
    """A signature as the client sends it (certificates DER or PEM)."""

    certificate: bytes
    chain: tuple[bytes, ...]
    value: bytes
    algorithm: str


@dataclass(frozen=True)
class VerifiedSignature:
    """A signature that passed every check, with who signed and what (the digest, hex)."""

    signer: Signer
    certificate: bytes  # DER
    chain: tuple[bytes, ...]  # DER
    value: bytes
    algorithm: str
    answers_sha256: str
    signed_at: datetime

    def stored(self) -> dict[str, Any]:
        """As the request keeps it (JSONB: bytes in base64)."""
        return {
            "certificate": _b64(self.certificate),
            "chain": [_b64(each) for each in self.chain],
            "value": _b64(self.value),
            "algorithm": self.algorithm,
            "answers_sha256": self.answers_sha256,
            "signed_at": self.signed_at.isoformat(),
            "signer": {
                "name": self.signer.name,
                "national_id": self.signer.national_id,
                "certificate_serial": self.signer.certificate_serial,
            },
        }


@dataclass(frozen=True)
class StoredSignature:
    """A request's signature read back from its row."""

    certificate: bytes
    chain: tuple[bytes, ...]
    value: bytes
    algorithm: str
    answers_sha256: str
    signer: Signer


def stored_signature(raw: Mapping[str, Any] | None) -> StoredSignature | None:
    if not raw:
        return None
    signer = raw["signer"]
    return StoredSignature(
        certificate=base64.b64decode(raw["certificate"]),
        chain=tuple(base64.b64decode(each) for each in raw["chain"]),
        value=base64.b64decode(raw["value"]),
        algorithm=raw["algorithm"],
        answers_sha256=raw["answers_sha256"],
        signer=Signer(signer["name"], signer["national_id"], signer["certificate_serial"]),
    )


def signer_of_answers(raw: Mapping[str, Any] | None, answers_sha256: str | None) -> Signer | None:
    """Who signed these very answers (None once a correction changed them, or never signed)."""
    found = stored_signature(raw)
    if found is None or found.answers_sha256 != answers_sha256:
        return None
    return found.signer


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# ---- refusals ----


def _invalid(field: str, reason: str, message: Any) -> InvalidInput:
    return InvalidInput("SIGNATURE_INVALID", message, [FieldError(field, reason, message)])


class SignatureRequired(Conflict):
    def __init__(self) -> None:
        message = _(
            "This procedure must be signed: sign the answers' digest with your certificate "
            "of the national identity card, then submit again."
        )
        super().__init__(
            "SIGNATURE_REQUIRED", message, [FieldError("signature", "required", message)]
        )


class CorrectionSignatureRequired(Conflict):
    """A correction of a signed procedure sent without a new signature: the refusal tells the
    digest of the corrected answers to sign (metadata `answers_sha256`), nothing is changed."""

    def __init__(self, answers_sha256: str) -> None:
        message = _(
            "Your corrected answers must be signed again: sign their digest {digest} with your "
            "certificate of the national identity card, then send the correction again.",
            digest=answers_sha256,
        )
        super().__init__(
            "SIGNATURE_REQUIRED",
            message,
            [FieldError("signature", "required", message)],
            metadata={"answers_sha256": answers_sha256},
        )


class SignatureNotExpected(InvalidInput):
    def __init__(self) -> None:
        message = _("This procedure is not signed: submit it without a signature.")
        super().__init__(
            "SIGNATURE_NOT_EXPECTED", message, [FieldError("signature", "not_expected", message)]
        )


class SignatureUnavailable(Unavailable):
    def __init__(self) -> None:
        super().__init__(
            "SIGNATURE_UNAVAILABLE",
            _("Signatures cannot be checked at the moment: try again later."),
        )


# ---- verification ----


def _certificate(data: bytes, field: str) -> x509.Certificate:
    if not data:
        raise _invalid(field, "missing", _("Send the certificate you signed with."))
    if len(data) > MAX_CERTIFICATE_BYTES:
        raise _invalid(field, "too_large", _("This certificate is too large."))
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as error:
        raise _invalid(
            field, "not_a_certificate", _("This is not an X.509 certificate (DER or PEM).")
        ) from error


def _check_value(certificate: x509.Certificate, supplied: SignatureInput, digest: bytes) -> None:
    key = certificate.public_key()
    algorithm = supplied.algorithm
    try:
        if algorithm == "ecdsa-sha256" and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(supplied.value, digest, ec.ECDSA(hashes.SHA256()))
            return
        if algorithm == "rsa-pkcs1v15-sha256" and isinstance(key, rsa.RSAPublicKey):
            key.verify(supplied.value, digest, padding.PKCS1v15(), hashes.SHA256())
            return
        if algorithm == "rsa-pss-sha256" and isinstance(key, rsa.RSAPublicKey):
            pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
            key.verify(supplied.value, digest, pss, hashes.SHA256())
            return
    except (InvalidSignature, UnsupportedAlgorithm, ValueError) as error:
        raise _invalid(
            "signature.value",
            "does_not_verify",
            _(
                "The signature does not match these answers: sign the digest of the answers "
                "as they are now, with the certificate you send."
            ),
        ) from error
    raise _invalid(
        "signature.algorithm",
        "key_mismatch",
        _("The algorithm {algorithm} does not fit the certificate's key.", algorithm=algorithm),
    )


def _national_id(certificate: x509.Certificate) -> str | None:
    found = certificate.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    return str(found[0].value).strip() if len(found) == 1 else None


def _name(certificate: x509.Certificate) -> str:
    found = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(found[0].value) if found else certificate.subject.rfc4514_string()


def _check_usage(certificate: x509.Certificate) -> None:
    refused = InvalidInput(
        "SIGNATURE_CERTIFICATE_USAGE",
        _("This certificate is not meant for signing: use your signature certificate."),
        [FieldError("signature.certificate", "usage", _("This certificate cannot sign."))],
    )
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound as error:
        raise refused from error
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
        is_ca = constraints.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if is_ca or not (usage.digital_signature or usage.content_commitment):
        raise refused


class SignatureVerifier:
    """Checks signatures against the national CA(s), loaded once per process."""

    def __init__(self, trust_roots: Sequence[Path | bytes]) -> None:
        self._roots = [
            asn1_x509.Certificate.load(_der(root.read_bytes() if isinstance(root, Path) else root))
            for root in trust_roots
        ]

    async def verify(
        self, supplied: SignatureInput, *, answers_sha256: str, signer: Principal, now: datetime
    ) -> VerifiedSignature:
        if supplied.algorithm not in ALGORITHMS:
            raise _invalid(
                "signature.algorithm",
                "unknown",
                _("Sign with one of: {algorithms}.", algorithms=", ".join(ALGORITHMS)),
            )
        if not supplied.value or len(supplied.value) > MAX_VALUE_BYTES:
            raise _invalid("signature.value", "invalid", _("Send the signature's value."))
        if len(supplied.chain) > MAX_CHAIN:
            raise _invalid(
                "signature.chain",
                "too_long",
                _("Send at most {count} intermediate certificates.", count=MAX_CHAIN),
            )
        certificate = _certificate(supplied.certificate, "signature.certificate")
        chain = [
            _certificate(each, f"signature.chain[{index}]")
            for index, each in enumerate(supplied.chain)
        ]
        await self._check_path(certificate, chain, now)
        _check_usage(certificate)
        national_id = _national_id(certificate)
        if national_id is None or national_id != signer.national_id:
            raise Forbidden(
                "SIGNER_NOT_APPLICANT",
                _(
                    "This certificate is not yours: sign with your own certificate, the one "
                    "that names you."
                ),
                [FieldError("signature.certificate", "not_yours", _("Not your certificate."))],
            )
        digest = bytes.fromhex(answers_sha256)
        _check_value(certificate, supplied, digest)
        return VerifiedSignature(
            signer=Signer(
                name=_name(certificate),
                national_id=national_id,
                certificate_serial=format(certificate.serial_number, "X"),
            ),
            certificate=certificate.public_bytes(Encoding.DER),
            chain=tuple(each.public_bytes(Encoding.DER) for each in chain),
            value=supplied.value,
            algorithm=supplied.algorithm,
            answers_sha256=answers_sha256,
            signed_at=now,
        )

    async def _check_path(
        self, certificate: x509.Certificate, chain: Sequence[x509.Certificate], now: datetime
    ) -> None:
        context = ValidationContext(trust_roots=self._roots, moment=now, allow_fetching=False)
        validator = CertificateValidator(
            asn1_x509.Certificate.load(certificate.public_bytes(Encoding.DER)),
            intermediate_certs=[
                asn1_x509.Certificate.load(each.public_bytes(Encoding.DER)) for each in chain
            ],
            validation_context=context,
        )
        try:
            await validator.async_validate_path()
        except (ExpiredError, NotYetValidError) as error:
            expired = isinstance(error, ExpiredError)
            message = (
                _("This certificate has expired: sign with a valid one.")
                if expired
                else _("This certificate is not valid yet.")
            )
            raise InvalidInput(
                "SIGNATURE_CERTIFICATE_EXPIRED",
                message,
                [
                    FieldError(
                        "signature.certificate", "expired" if expired else "not_yet_valid", message
                    )
                ],
            ) from error
        except (PathBuildingError, PathValidationError, ValidationError) as error:
            message = _(
                "This certificate was not issued by the national certification authority: "
                "sign with the certificate of your identity card."
            )
            raise InvalidInput(
                "SIGNATURE_CERTIFICATE_UNTRUSTED",
                message,
                [FieldError("signature.certificate", "untrusted", message)],
            ) from error


def _der(data: bytes) -> bytes:
    if data.lstrip().startswith(b"-----BEGIN"):
        return x509.load_pem_x509_certificate(data).public_bytes(Encoding.DER)
    return data


async def check_submission(
    definition: Definition,
    supplied: SignatureInput | None,
    verifier: SignatureVerifier | None,
    signer: Principal,
    answers_sha256: str,
    now: datetime,
) -> VerifiedSignature | None:
    """The submission's signature as the procedure wants it: required and valid, or absent."""
    if not definition.signature_required:
        if supplied is not None:
            raise SignatureNotExpected()
        return None
    if supplied is None:
        raise SignatureRequired()
    if verifier is None:
        raise SignatureUnavailable()
    return await verifier.verify(supplied, answers_sha256=answers_sha256, signer=signer, now=now)


async def check_correction(
    definition: Definition,
    supplied: SignatureInput | None,
    verifier: SignatureVerifier | None,
    signer: Principal,
    answers_sha256: str,
    now: datetime,
) -> VerifiedSignature | None:
    """A correction's new signature: as at submission, over the corrected answers' digest."""
    if definition.signature_required and supplied is None:
        raise CorrectionSignatureRequired(answers_sha256)
    return await check_submission(definition, supplied, verifier, signer, answers_sha256, now)


def digest_bytes(answers_sha256: str) -> bytes:
    """The message a client signs: the 32 bytes of the hex digest."""
    return bytes.fromhex(answers_sha256)


__all__ = [
    "ALGORITHMS",
    "SignatureInput",
    "SignatureVerifier",
    "StoredSignature",
    "VerifiedSignature",
    "check_correction",
    "check_submission",
    "digest_bytes",
    "signer_of_answers",
    "stored_signature",
]
