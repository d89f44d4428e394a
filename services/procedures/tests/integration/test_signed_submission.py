"""F26 on the real PostgreSQL with the development PKI: a procedure requiring the applicant's
signature is submitted with a signature of the complete draft's digest by a citizen certificate
of the national CA (.data/pki/national, as for the high-level login); the proof names the
signer and the administration receives the signature. A certificate of the rogue CA, an expired
one, someone else's, a signature of other answers, or none: refused, nothing changed."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from pypdf import PdfReader
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.procedures.v1 import procedures_pb2 as pb
from guichet_kit.errors import ServiceError
from guichet_kit.grpc_client import insecure_channel
from guichet_kit.mandates import MandateChecker
from guichet_kit.seal import Sealer
from guichet_procedures.api import wire
from guichet_procedures.api.administration import incoming_to_proto
from guichet_procedures.api.citizen import ProceduresServicer, RequestRules
from guichet_procedures.definitions.loader import Catalogue
from guichet_procedures.publishing import publish_directory
from guichet_procedures.requests import administration as rules
from guichet_procedures.requests.catalogue_store import CatalogueStore
from guichet_procedures.requests.proof import answers_digest
from guichet_procedures.requests.references import parse_reference
from guichet_procedures.requests.service import ProofIssuer
from guichet_procedures.requests.signature import SignatureVerifier
from guichet_testkit.pki import issue_citizen_certificate

from .conftest import (
    ANNE,
    BOB,
    NO_CONTEXT,
    TEST_FORM,
    VERIFY_URL,
    Clock,
    Wakes,
    outbox,
    refusal,
    stored_request,
    write_catalogue,
)
from .test_submission import ask_correction

SIGNED = "test-signed"
SIGNED_FORM: dict[str, Any] = {
    **TEST_FORM,
    "code": SIGNED,
    "administration": "justice",
    "signature": "required",
    "steps": [TEST_FORM["steps"][0]],
}
UNSIGNED = "test-unsigned"
UNSIGNED_FORM = {key: value for key, value in SIGNED_FORM.items() if key != "signature"} | {
    "code": UNSIGNED
}


@pytest.fixture
async def signing(
    sessions: async_sessionmaker[AsyncSession],
    catalogue: Catalogue,
    sealer: Sealer,
    pki: Path,
    clock: Clock,
    wakes: Wakes,
    tmp_path: Path,
) -> Any:
    """The servicer with the national CA as the signatures' trust root, and a signed procedure."""
    await publish_directory(
        sessions, write_catalogue(tmp_path / "signed", [SIGNED_FORM, UNSIGNED_FORM])
    )
    rules_ = RequestRules(
        draft_days=90,
        make_proof=ProofIssuer(sealer, VERIFY_URL, wire.display),
        trust_roots=(pki / "ca.crt",),
        clock=clock,
        signatures=SignatureVerifier([pki / "national" / "ca.crt"]),
    )
    async with insecure_channel("127.0.0.1:1", timeout=1) as nowhere:
        yield ProceduresServicer(
            sessions, CatalogueStore(catalogue.themes), MandateChecker(nowhere), rules_, wakes
        )


def key_of(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def signature(
    certificate: Path, key: Path, digest: str, algorithm: str = "ecdsa-sha256"
) -> pb.Signature:
    value = key_of(key).sign(bytes.fromhex(digest), ec.ECDSA(hashes.SHA256()))
    return pb.Signature(certificate=certificate.read_bytes(), value=value, algorithm=algorithm)


def expired_certificate(national_ca: Path, national_id: str, out: Path) -> tuple[Path, Path]:
    """A citizen certificate of the national CA whose validity ended yesterday."""
    ca = x509.load_pem_x509_certificate((national_ca / "ca.crt").read_bytes())
    ca_key = serialization.load_pem_private_key(
        (national_ca / "ca.key").read_bytes(), password=None
    )
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COUNTRY_NAME, "LU"),
                    x509.NameAttribute(NameOID.SERIAL_NUMBER, national_id),
                    x509.NameAttribute(NameOID.COMMON_NAME, "Anne Muller"),
                ]
            )
        )
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=400))
        .not_valid_after(now - dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), True
        )
        .sign(ca_key, hashes.SHA256())
    )
    out.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = out / "expired.crt", out / "expired.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def complete_draft(servicer: ProceduresServicer, code: str = SIGNED) -> pb.Request:
    started = await servicer.StartDraft(
        pb.StartDraftRequest(procedure_code=code, language="en"), NO_CONTEXT
    )
    saved = await servicer.SaveStep(
        pb.SaveStepRequest(
            request_id=started.request.id,
            step_id="about",
            answers_json='{"name": "Anne", "has_children": false}',
            language="en",
        ),
        NO_CONTEXT,
    )
    return saved.request


def submission(request_id: str, signed: pb.Signature | None, key: str = "k1") -> Any:
    message = pb.SubmitRequestRequest(request_id=request_id, idempotency_key=key, language="en")
    if signed is not None:
        message.signature.CopyFrom(signed)
    return message


async def test_a_signed_request_is_submitted_its_proof_names_the_signer_and_the_administration_gets_the_signature(  # noqa: E501
    signing: ProceduresServicer,
    sessions: async_sessionmaker[AsyncSession],
    signed_in: Callable[..., Any],
    pki: Path,
    tmp_path: Path,
) -> None:
    signed_in(ANNE)
    draft = await complete_draft(signing)
    # The complete draft shows the digest to sign: the one the submission prints.
    assert draft.next_step == "" and draft.answers_sha256 == answers_digest(
        {"name": "Anne", "has_children": False}
    )
    cert, key = issue_citizen_certificate(pki / "national", ANNE, "Anne Muller", tmp_path)
    reply = await signing.SubmitRequest(
        submission(draft.id, signature(cert, key, draft.answers_sha256)), NO_CONTEXT
    )
    submitted = reply.request
    assert submitted.state == pb.REQUEST_STATE_SUBMITTED
    assert submitted.answers_sha256 == draft.answers_sha256

    row = await stored_request(sessions, draft.id)
    serial = format(x509.load_pem_x509_certificate(cert.read_bytes()).serial_number, "X")
    assert row["signature"]["signer"] == {
        "name": "Anne Muller",
        "national_id": ANNE,
        "certificate_serial": serial,
    }
    proof = await signing.GetProof(pb.GetProofRequest(request_id=draft.id), NO_CONTEXT)
    text = " ".join(
        " ".join((page.extract_text() or "").split())
        for page in PdfReader(io.BytesIO(proof.pdf)).pages
    )
    assert "Signed by" in text and ANNE in text and serial in text

    async with sessions() as session:
        incoming = await rules.incoming_request(
            session,
            CatalogueStore(signing._store.themes),
            "justice",
            parse_reference(submitted.reference).canonical,
            submitted.reference,
        )
    given = incoming_to_proto(incoming)
    assert given.signer == f"person:{ANNE}"
    assert given.signature.algorithm == "ecdsa-sha256"
    assert x509.load_der_x509_certificate(given.signature.certificate).serial_number == int(
        serial, 16
    )
    # The administration can check the value over the digest it receives.
    public_key = x509.load_der_x509_certificate(given.signature.certificate).public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    public_key.verify(
        given.signature.value, bytes.fromhex(given.answers_sha256), ec.ECDSA(hashes.SHA256())
    )


@pytest.mark.parametrize(
    ("case", "code", "reason"),
    [
        ("missing", grpc.StatusCode.FAILED_PRECONDITION, "SIGNATURE_REQUIRED"),
        ("rogue", grpc.StatusCode.INVALID_ARGUMENT, "SIGNATURE_CERTIFICATE_UNTRUSTED"),
        ("expired", grpc.StatusCode.INVALID_ARGUMENT, "SIGNATURE_CERTIFICATE_EXPIRED"),
        ("someone_else", grpc.StatusCode.PERMISSION_DENIED, "SIGNER_NOT_APPLICANT"),
        ("tampered", grpc.StatusCode.INVALID_ARGUMENT, "SIGNATURE_INVALID"),
    ],
)
async def test_a_bad_signature_is_refused_and_changes_nothing(
    case: str,
    code: grpc.StatusCode,
    reason: str,
    signing: ProceduresServicer,
    sessions: async_sessionmaker[AsyncSession],
    signed_in: Callable[..., Any],
    counts: Callable[[], Any],
    pki: Path,
    tmp_path: Path,
) -> None:
    signed_in(ANNE)
    draft = await complete_draft(signing)
    digest = draft.answers_sha256
    national = pki / "national"
    signed: pb.Signature | None = None
    if case == "rogue":
        signed = signature(
            *issue_citizen_certificate(pki / "rogue", ANNE, "Anne", tmp_path), digest
        )
    elif case == "expired":
        signed = signature(*expired_certificate(national, ANNE, tmp_path), digest)
    elif case == "someone_else":
        signed = signature(*issue_citizen_certificate(national, BOB, "Bob", tmp_path), digest)
    elif case == "tampered":
        other = answers_digest({"name": "Someone else", "has_children": False})
        signed = signature(*issue_citizen_certificate(national, ANNE, "Anne", tmp_path), other)
    before_row = await stored_request(sessions, draft.id)
    before_counts = await counts()
    before_events = await outbox(sessions)

    refused = await refusal(signing.SubmitRequest(submission(draft.id, signed), NO_CONTEXT))
    assert (refused.code, refused.reason) == (code, reason)
    assert refused.message
    assert await stored_request(sessions, draft.id) == before_row
    assert await counts() == before_counts  # no proof, no history, no quota taken
    assert await outbox(sessions) == before_events

    # Signed properly afterwards, the same draft goes through.
    good = signature(*issue_citizen_certificate(national, ANNE, "Anne", tmp_path / "ok"), digest)
    reply = await signing.SubmitRequest(submission(draft.id, good, "k2"), NO_CONTEXT)
    assert reply.request.state == pb.REQUEST_STATE_SUBMITTED


async def test_a_signature_for_a_procedure_that_asks_none_is_refused(
    signing: ProceduresServicer,
    sessions: async_sessionmaker[AsyncSession],
    signed_in: Callable[..., Any],
    pki: Path,
    tmp_path: Path,
) -> None:
    signed_in(ANNE)
    draft = await complete_draft(signing, UNSIGNED)
    cert, key = issue_citizen_certificate(pki / "national", ANNE, "Anne", tmp_path)
    before = await stored_request(sessions, draft.id)
    refused = await refusal(
        signing.SubmitRequest(
            submission(draft.id, signature(cert, key, draft.answers_sha256)), NO_CONTEXT
        )
    )
    assert (refused.code, refused.reason, refused.fields) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "SIGNATURE_NOT_EXPECTED",
        ("signature",),
    )
    assert await stored_request(sessions, draft.id) == before


# ---- a correction of a signed request: signed again ----


def correction(request_id: str, changes: dict[str, Any], signed: pb.Signature | None) -> Any:
    message = pb.AnswerCorrectionRequest(
        request_id=request_id, answers_json=json.dumps(changes), language="en"
    )
    if signed is not None:
        message.signature.CopyFrom(signed)
    return message


async def signed_request_asked_to_correct(
    servicer: ProceduresServicer,
    sessions: async_sessionmaker[AsyncSession],
    certificate: tuple[Path, Path],
    code: str = SIGNED,
) -> pb.Request:
    """A request submitted (signed when `code` asks for it), the name asked to be corrected."""
    draft = await complete_draft(servicer, code)
    signed = signature(*certificate, draft.answers_sha256) if code == SIGNED else None
    await servicer.SubmitRequest(submission(draft.id, signed), NO_CONTEXT)
    await ask_correction(sessions, draft.id, ["name"])
    return draft


async def test_a_corrected_signed_request_is_signed_again_over_the_new_digest(
    signing: ProceduresServicer,
    sessions: async_sessionmaker[AsyncSession],
    signed_in: Callable[..., Any],
    counts: Callable[[], Any],
    pki: Path,
    tmp_path: Path,
) -> None:
    signed_in(ANNE)
    certificate = issue_citizen_certificate(pki / "national", ANNE, "Anne Muller", tmp_path)
    draft = await signed_request_asked_to_correct(signing, sessions, certificate)
    new_digest = answers_digest({"name": "Anne Weber", "has_children": False})
    assert new_digest != draft.answers_sha256
    before_row, before_counts = await stored_request(sessions, draft.id), await counts()
    before_events = await outbox(sessions)

    # Without a signature: refused, and told which digest to sign; nothing changed.
    with pytest.raises(ServiceError) as missing:
        await signing.AnswerCorrection(
            correction(draft.id, {"name": "Anne Weber"}, None), NO_CONTEXT
        )
    assert (missing.value.code, missing.value.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "SIGNATURE_REQUIRED",
    )
    assert missing.value.metadata["answers_sha256"] == new_digest
    assert new_digest in str(missing.value.message)
    assert [f.field for f in missing.value.field_errors] == ["signature"]
    # The first signature (of the answers before the correction) does not sign the new ones;
    # nor does someone else's certificate over the new digest.
    bob = issue_citizen_certificate(pki / "national", BOB, "Bob", tmp_path / "bob")
    for signed, code, reason in (
        (
            signature(*certificate, draft.answers_sha256),
            grpc.StatusCode.INVALID_ARGUMENT,
            "SIGNATURE_INVALID",
        ),
        (signature(*bob, new_digest), grpc.StatusCode.PERMISSION_DENIED, "SIGNER_NOT_APPLICANT"),
    ):
        refused = await refusal(
            signing.AnswerCorrection(
                correction(draft.id, {"name": "Anne Weber"}, signed), NO_CONTEXT
            )
        )
        assert (refused.code, refused.reason) == (code, reason)
    assert await stored_request(sessions, draft.id) == before_row
    assert await counts() == before_counts
    assert await outbox(sessions) == before_events

    # Signed over the corrected answers' digest: resubmitted, the proof names the signer again.
    reply = await signing.AnswerCorrection(
        correction(draft.id, {"name": "Anne Weber"}, signature(*certificate, new_digest)),
        NO_CONTEXT,
    )
    assert reply.request.state == pb.REQUEST_STATE_SUBMITTED
    assert reply.request.answers_sha256 == new_digest
    row = await stored_request(sessions, draft.id)
    assert row["signature"]["answers_sha256"] == new_digest
    assert row["signature"]["signer"]["national_id"] == ANNE
    proof = await signing.GetProof(pb.GetProofRequest(request_id=draft.id), NO_CONTEXT)
    text = " ".join(
        " ".join((page.extract_text() or "").split())
        for page in PdfReader(io.BytesIO(proof.pdf)).pages
    )
    assert "Signed by" in text and new_digest[:16] in text.replace(" ", "")
    async with sessions() as session:
        incoming = await rules.incoming_request(
            session,
            CatalogueStore(signing._store.themes),
            "justice",
            parse_reference(reply.request.reference).canonical,
            reply.request.reference,
        )
    given = incoming_to_proto(incoming)
    public_key = x509.load_der_x509_certificate(given.signature.certificate).public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    assert given.answers_sha256 == new_digest
    public_key.verify(given.signature.value, bytes.fromhex(new_digest), ec.ECDSA(hashes.SHA256()))


async def test_a_correction_of_an_unsigned_procedure_takes_no_signature(
    signing: ProceduresServicer,
    sessions: async_sessionmaker[AsyncSession],
    signed_in: Callable[..., Any],
    pki: Path,
    tmp_path: Path,
) -> None:
    signed_in(ANNE)
    certificate = issue_citizen_certificate(pki / "national", ANNE, "Anne Muller", tmp_path)
    draft = await signed_request_asked_to_correct(signing, sessions, certificate, UNSIGNED)
    before = await stored_request(sessions, draft.id)
    new_digest = answers_digest({"name": "Anne Weber", "has_children": False})
    refused = await refusal(
        signing.AnswerCorrection(
            correction(draft.id, {"name": "Anne Weber"}, signature(*certificate, new_digest)),
            NO_CONTEXT,
        )
    )
    assert (refused.reason, refused.fields) == ("SIGNATURE_NOT_EXPECTED", ("signature",))
    assert await stored_request(sessions, draft.id) == before
    reply = await signing.AnswerCorrection(
        correction(draft.id, {"name": "Anne Weber"}, None), NO_CONTEXT
    )
    assert reply.request.state == pb.REQUEST_STATE_SUBMITTED
    assert (await stored_request(sessions, draft.id))["signature"] is None
