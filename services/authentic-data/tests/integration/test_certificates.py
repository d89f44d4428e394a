"""F51: certificates in the person's language, sealed PAdES with the platform's seal, checked with
pyhanko's validator against the development CA; one changed byte breaks the seal; the public
verification knows the certificate by its id and its hash."""

from __future__ import annotations

import hashlib
import io
import uuid
from pathlib import Path

import grpc
import pytest
from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.authentic_data.v1 import authentic_data_pb2 as pb
from guichet_authentic_data.api.citizen import MyDataServicer
from guichet_authentic_data.api.verification import VerificationServicer
from guichet_kit.auth import ActingContext
from guichet_kit.i18n import Language, set_language

from .conftest import ANNE, NO_CONTEXT, PUBLIC_BASE_URL, a_citizen, log_entries, refusal


async def _seal_status(pdf: bytes, ca: Path):  # type: ignore[no-untyped-def]
    context = ValidationContext(trust_roots=[load_cert_from_pemder(str(ca))])
    [seal] = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    return await async_validate_pdf_signature(seal, context)


def _flip_a_byte_of_the_page(pdf: bytes) -> bytes:
    changed = bytearray(pdf)
    changed[pdf.index(b"stream") + 40] ^= 0x01  # inside the first content stream: signed bytes
    return bytes(changed)


async def test_a_residence_certificate_is_sealed_valid_and_broken_by_one_changed_byte(
    my_data: MyDataServicer, family: None, signed_in, pki: Path
) -> None:
    signed_in(a_citizen(ANNE))

    reply = await my_data.IssueCertificate(
        pb.IssueCertificateRequest(kind=pb.CERTIFICATE_KIND_RESIDENCE, language="de"), NO_CONTEXT
    )

    pdf = reply.pdf
    assert pdf.startswith(b"%PDF")
    status = await _seal_status(pdf, pki / "ca.crt")
    assert (status.intact, status.valid, status.trusted, status.bottom_line) == (
        True,
        True,
        True,
        True,
    )
    assert status.signing_cert.subject.native["common_name"] == "OpenGuichet platform seal"
    tampered = await _seal_status(_flip_a_byte_of_the_page(pdf), pki / "ca.crt")
    assert (tampered.intact, tampered.bottom_line) == (False, False)


async def test_a_seal_is_not_trusted_against_another_ca(
    my_data: MyDataServicer, family: None, signed_in, pki: Path
) -> None:
    signed_in(a_citizen(ANNE))
    reply = await my_data.IssueCertificate(
        pb.IssueCertificateRequest(kind=pb.CERTIFICATE_KIND_RESIDENCE, language="fr"), NO_CONTEXT
    )

    status = await _seal_status(reply.pdf, pki / "rogue" / "ca.crt")

    assert status.intact and not status.bottom_line


async def test_the_certificate_is_recorded_verifiable_and_its_read_logged(
    my_data: MyDataServicer,
    verification: VerificationServicer,
    family: None,
    signed_in,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    signed_in(a_citizen(ANNE))
    set_language(Language.EN)
    reply = await my_data.IssueCertificate(
        pb.IssueCertificateRequest(kind=pb.CERTIFICATE_KIND_HOUSEHOLD_COMPOSITION), NO_CONTEXT
    )
    certificate = reply.certificate
    digest = hashlib.sha256(reply.pdf).hexdigest()

    assert certificate.sha256 == digest
    assert certificate.language == "en"  # no language asked: the caller's
    assert certificate.verify_url == f"{PUBLIC_BASE_URL}/verify/{certificate.id}"
    info = PdfFileReader(io.BytesIO(reply.pdf)).trailer["/Info"]
    assert str(info["/Title"]) == f"Household composition certificate {certificate.id}"
    assert certificate.kind_label == "Household composition certificate"
    [entry] = await log_entries(sessions)
    assert entry.purpose == "citizen:certificate:household"
    assert "person.household" in entry.fields
    signed_in(None)  # verifying needs no sign-in
    checked = await verification.VerifyCertificate(
        pb.VerifyCertificateRequest(certificate_id=certificate.id, sha256=digest.upper()),
        NO_CONTEXT,
    )
    assert (checked.sha256_given, checked.sha256_matches) == (True, True)
    assert checked.certificate.kind == pb.CERTIFICATE_KIND_HOUSEHOLD_COMPOSITION
    other = await verification.VerifyCertificate(
        pb.VerifyCertificateRequest(
            certificate_id=certificate.id, sha256=hashlib.sha256(b"forged").hexdigest()
        ),
        NO_CONTEXT,
    )
    assert (other.sha256_given, other.sha256_matches) == (True, False)


@pytest.mark.parametrize(
    ("request_", "fields"),
    [
        (
            pb.IssueCertificateRequest(kind=pb.CERTIFICATE_KIND_RESIDENCE, language="it"),
            ["language"],
        ),
        (
            pb.IssueCertificateRequest(kind=pb.CERTIFICATE_KIND_RESIDENCE, language="en-GB"),
            ["language"],
        ),
        (pb.IssueCertificateRequest(language="fr"), ["kind"]),
        (pb.IssueCertificateRequest(kind=99, language="xx"), ["kind", "language"]),  # type: ignore[arg-type]
    ],
    ids=["italian", "a-tag", "no-kind", "both"],
)
async def test_a_certificate_in_an_unsupported_language_or_kind_is_refused_and_nothing_kept(
    my_data: MyDataServicer,
    family: None,
    signed_in,
    counts,
    request_: pb.IssueCertificateRequest,
    fields: list[str],
) -> None:
    signed_in(a_citizen(ANNE))
    before = await counts()

    refused = await refusal(my_data.IssueCertificate(request_, NO_CONTEXT))

    assert (refused.code, refused.reason, refused.fields) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_CERTIFICATE_REQUEST",
        fields,
    )
    assert await counts() == before


async def test_a_certificate_is_not_issued_for_a_company(
    my_data: MyDataServicer, family: None, signed_in, counts
) -> None:
    signed_in(a_citizen(ANNE), ActingContext("company", "space-1"))
    before = await counts()

    refused = await refusal(
        my_data.IssueCertificate(
            pb.IssueCertificateRequest(kind=pb.CERTIFICATE_KIND_RESIDENCE), NO_CONTEXT
        )
    )

    assert refused.reason == "ACTING_CONTEXT_NOT_ALLOWED"
    assert await counts() == before


@pytest.mark.parametrize(
    ("request_", "code", "reason"),
    [
        (
            pb.VerifyCertificateRequest(certificate_id=str(uuid.uuid4())),
            grpc.StatusCode.NOT_FOUND,
            "CERTIFICATE_NOT_FOUND",
        ),
        (
            pb.VerifyCertificateRequest(certificate_id="not-an-id"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "INVALID_VERIFICATION",
        ),
        (
            pb.VerifyCertificateRequest(certificate_id=str(uuid.uuid4()), sha256="zz"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "INVALID_VERIFICATION",
        ),
    ],
    ids=["unknown", "not-a-uuid", "bad-hash"],
)
async def test_verifying_an_unknown_or_malformed_certificate_is_refused(
    verification: VerificationServicer,
    sessions: async_sessionmaker[AsyncSession],
    request_: pb.VerifyCertificateRequest,
    code: grpc.StatusCode,
    reason: str,
) -> None:
    refused = await refusal(verification.VerifyCertificate(request_, NO_CONTEXT))

    assert (refused.code, refused.reason) == (code, reason)
