"""F26: the applicant's signature of the answers' digest — the definition key, each check of
`SignatureVerifier` with a throw-away CA (algorithms, chain, validity, key usage, the signer's
national id, malformed input) and the signer printed on the proof. The same checks against the
development PKI's national CA run in tests/integration/test_signed_submission.py."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from pypdf import PdfReader

from guichet_kit.auth import LevelOfAssurance, Principal
from guichet_kit.domain import DomainError
from guichet_kit.i18n import Language
from guichet_procedures.definitions.model import DefinitionError, parse_definition
from guichet_procedures.requests.proof import (
    Applicant,
    ProofContent,
    Signer,
    answers_digest,
    render_proof,
)
from guichet_procedures.requests.references import generate_reference
from guichet_procedures.requests.signature import (
    SignatureInput,
    SignatureVerifier,
    check_submission,
    signer_of_answers,
    stored_signature,
)

ANNE = "1980010110132"
BOB = "1975060620241"
NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
DIGEST = answers_digest({"bulletin": "b3", "purpose": "employment"})
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass
class Issued:
    certificate: x509.Certificate
    key: PrivateKey

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)


def issue(
    subject: list[x509.NameAttribute],
    issuer: Issued | None = None,
    *,
    key: PrivateKey | None = None,
    ca: bool = False,
    usage: dict[str, bool] | None = None,
    not_before: dt.datetime = NOW - dt.timedelta(days=1),
    not_after: dt.datetime = NOW + dt.timedelta(days=30),
) -> Issued:
    """A certificate; self-signed when `issuer` is None. `usage` overrides key usage bits."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    bits = {
        "digital_signature": not ca, "content_commitment": False, "key_encipherment": False,
        "data_encipherment": False, "key_agreement": False, "key_cert_sign": ca,
        "crl_sign": ca, "encipher_only": False, "decipher_only": False,
    } | (usage or {})  # fmt: skip
    name = x509.Name(subject)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.certificate.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(**bits), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), False
        )
    signing_key = issuer.key if issuer else key
    return Issued(builder.sign(signing_key, hashes.SHA256()), key)


def authority(name: str) -> Issued:
    return issue(
        [x509.NameAttribute(NameOID.COMMON_NAME, name)],
        key=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        ca=True,
        not_before=NOW - dt.timedelta(days=365),
        not_after=NOW + dt.timedelta(days=3650),
    )


def citizen_name(national_id: str, name: str = "Anne Muller") -> list[x509.NameAttribute]:
    return [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "LU"),
        x509.NameAttribute(NameOID.SERIAL_NUMBER, national_id),
        x509.NameAttribute(NameOID.COMMON_NAME, name),
    ]


NATIONAL = authority("Test national CA")
ROGUE = authority("Rogue CA")


def person(national_id: str = ANNE) -> Principal:
    return Principal(
        subject="kc-1",
        level=LevelOfAssurance.HIGH,
        national_id=national_id,
        email="anne@example.org",
        name="Anne Muller",
        token="-",
    )


def sign(key: PrivateKey, algorithm: str, digest: str = DIGEST) -> bytes:
    message = bytes.fromhex(digest)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(message, ec.ECDSA(hashes.SHA256()))
    if algorithm == "rsa-pss-sha256":
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        return key.sign(message, pss, hashes.SHA256())
    return key.sign(message, padding.PKCS1v15(), hashes.SHA256())


def signed(
    issued: Issued,
    algorithm: str = "ecdsa-sha256",
    *,
    chain: tuple[bytes, ...] = (),
    digest: str = DIGEST,
    pem: bool = False,
) -> SignatureInput:
    return SignatureInput(
        certificate=issued.pem if pem else issued.der,
        chain=chain,
        value=sign(issued.key, algorithm, digest),
        algorithm=algorithm,
    )


async def verified(supplied: SignatureInput, national_id: str = ANNE) -> Any:
    verifier = SignatureVerifier([NATIONAL.pem])
    return await verifier.verify(
        supplied, answers_sha256=DIGEST, signer=person(national_id), now=NOW
    )


async def refused(supplied: SignatureInput, national_id: str = ANNE) -> tuple[str, str, str]:
    with pytest.raises(DomainError) as error:
        await verified(supplied, national_id)
    found = error.value
    assert found.fields, "each refusal names the part of the signature that is wrong"
    return found.refusal.value, found.reason, found.fields[0].reason


# ---- the definition key ----

DEFINITION: dict[str, Any] = {
    "code": "signed-form",
    "version": 1,
    "administration": "justice",
    "theme": "justice",
    "audience": ["citizen"],
    "access": {"login": "required", "level": "high"},
    "channel": "online",
    "title": {"fr": "F", "de": "D", "en": "E"},
    "summary": {"fr": "F", "de": "D", "en": "E"},
    "statuses": [
        {"code": "received", "text": {"fr": "F", "de": "D", "en": "E"}, "next": ["done"]},
        {"code": "done", "text": {"fr": "F", "de": "D", "en": "E"}, "end": True},
    ],
    "steps": [
        {
            "id": "about",
            "title": {"fr": "F", "de": "D", "en": "E"},
            "fields": [{"id": "name", "type": "text", "label": {"fr": "F", "de": "D", "en": "E"}}],
        }
    ],
}


def test_a_definition_may_require_the_applicants_signature() -> None:
    assert parse_definition({**DEFINITION, "signature": "required"}).signature_required
    assert not parse_definition(DEFINITION).signature_required


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"signature": "maybe"}, "signature: 'maybe' is not one of required"),
        ({"signature": True}, "signature: expected a text"),
        (
            {"signature": "required", "channel": "paper", "paper_form": "x-form", "steps": None,
             "statuses": None},
            "signature: a paper procedure is signed on paper",
        ),
    ],
)  # fmt: skip
def test_a_wrong_signature_key_is_refused_at_load(changes: dict[str, Any], problem: str) -> None:
    document = {key: value for key, value in {**DEFINITION, **changes}.items() if value is not None}
    with pytest.raises(DefinitionError) as error:
        parse_definition(document)
    assert problem in error.value.problems


# ---- what the verifier accepts ----


@pytest.mark.parametrize("algorithm", ["rsa-pss-sha256", "rsa-pkcs1v15-sha256"])
async def test_an_rsa_signature_by_the_applicant_is_accepted(algorithm: str) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    leaf = issue(citizen_name(ANNE), NATIONAL, key=key)
    result = await verified(signed(leaf, algorithm, pem=True))
    assert result.algorithm == algorithm and result.certificate == leaf.der


async def test_an_ecdsa_signature_is_accepted_stored_and_read_back() -> None:
    leaf = issue(citizen_name(ANNE, "Anne Müller"), NATIONAL)
    result = await verified(signed(leaf))
    serial = format(leaf.certificate.serial_number, "X")
    assert result.signer == Signer("Anne Müller", ANNE, serial)
    stored = result.stored()
    back = stored_signature(stored)
    assert back is not None
    assert (back.certificate, back.value, back.answers_sha256) == (leaf.der, result.value, DIGEST)
    assert signer_of_answers(stored, DIGEST) == result.signer
    # Answers changed since (a correction): the signature no longer covers them.
    assert signer_of_answers(stored, answers_digest({"other": 1})) is None
    assert signer_of_answers(None, DIGEST) is None


async def test_a_non_repudiation_certificate_signs_through_an_intermediate_ca() -> None:
    intermediate = issue(
        [x509.NameAttribute(NameOID.COMMON_NAME, "Test signing sub-CA")],
        NATIONAL,
        key=ec.generate_private_key(ec.SECP256R1()),
        ca=True,
    )
    leaf = issue(
        citizen_name(ANNE),
        intermediate,
        usage={"digital_signature": False, "content_commitment": True},
    )
    result = await verified(signed(leaf, chain=(intermediate.pem,)))
    assert result.chain == (intermediate.der,)
    # Without its intermediate, the certificate leads nowhere the platform trusts.
    assert await refused(signed(leaf)) == (
        "invalid", "SIGNATURE_CERTIFICATE_UNTRUSTED", "untrusted"
    )  # fmt: skip


# ---- what it refuses ----


async def test_a_certificate_of_another_ca_is_untrusted() -> None:
    leaf = issue(citizen_name(ANNE), ROGUE)
    assert await refused(signed(leaf)) == (
        "invalid", "SIGNATURE_CERTIFICATE_UNTRUSTED", "untrusted"
    )  # fmt: skip
    # Self-signed, naming the applicant: the same.
    selfsigned = issue(citizen_name(ANNE))
    assert (await refused(signed(selfsigned)))[1] == "SIGNATURE_CERTIFICATE_UNTRUSTED"


async def test_an_expired_or_not_yet_valid_certificate_is_refused() -> None:
    expired = issue(
        citizen_name(ANNE),
        NATIONAL,
        not_before=NOW - dt.timedelta(days=60),
        not_after=NOW - dt.timedelta(days=1),
    )
    assert await refused(signed(expired)) == (
        "invalid", "SIGNATURE_CERTIFICATE_EXPIRED", "expired"
    )  # fmt: skip
    early = issue(citizen_name(ANNE), NATIONAL, not_before=NOW + dt.timedelta(days=1))
    assert await refused(signed(early)) == (
        "invalid", "SIGNATURE_CERTIFICATE_EXPIRED", "not_yet_valid"
    )  # fmt: skip


async def test_someone_elses_certificate_is_refused() -> None:
    bobs = issue(citizen_name(BOB, "Bob Weber"), NATIONAL)
    assert await refused(signed(bobs)) == ("forbidden", "SIGNER_NOT_APPLICANT", "not_yours")
    nameless = issue([x509.NameAttribute(NameOID.COMMON_NAME, "Anne Muller")], NATIONAL)
    assert (await refused(signed(nameless)))[1] == "SIGNER_NOT_APPLICANT"


async def test_a_certificate_that_may_not_sign_is_refused() -> None:
    encrypting = issue(
        citizen_name(ANNE),
        NATIONAL,
        usage={"digital_signature": False, "key_encipherment": True},
    )
    assert await refused(signed(encrypting)) == (
        "invalid", "SIGNATURE_CERTIFICATE_USAGE", "usage"
    )  # fmt: skip


async def test_a_signature_of_other_answers_is_refused() -> None:
    leaf = issue(citizen_name(ANNE), NATIONAL)
    other = answers_digest({"bulletin": "b5", "purpose": "employment"})
    assert await refused(signed(leaf, digest=other)) == (
        "invalid", "SIGNATURE_INVALID", "does_not_verify"
    )  # fmt: skip


@pytest.mark.parametrize(
    ("change", "field_reason"),
    [
        ({"algorithm": "md5-rsa"}, "unknown"),
        ({"algorithm": "rsa-pss-sha256"}, "key_mismatch"),  # an EC key
        ({"certificate": b"not a certificate"}, "not_a_certificate"),
        ({"certificate": b""}, "missing"),
        ({"certificate": b"0" * 20_000}, "too_large"),
        ({"value": b""}, "invalid"),
        ({"value": b"\x00" * 2000}, "invalid"),
        ({"chain": (b"x",) * 5}, "too_long"),
        ({"chain": (b"garbage",)}, "not_a_certificate"),
    ],
)
async def test_a_malformed_signature_is_refused_with_what_is_wrong(
    change: dict[str, Any], field_reason: str
) -> None:
    leaf = issue(citizen_name(ANNE), NATIONAL)
    supplied = signed(leaf)
    supplied = SignatureInput(**{**supplied.__dict__, **change})
    assert await refused(supplied) == ("invalid", "SIGNATURE_INVALID", field_reason)


async def test_the_procedure_says_whether_a_signature_is_wanted() -> None:
    plain = parse_definition(DEFINITION)
    needing = parse_definition({**DEFINITION, "signature": "required"})
    leaf = issue(citizen_name(ANNE), NATIONAL)
    verifier = SignatureVerifier([NATIONAL.der])
    assert await check_submission(plain, None, verifier, person(), DIGEST, NOW) is None
    cases = [
        (plain, signed(leaf), verifier, "SIGNATURE_NOT_EXPECTED"),
        (needing, None, verifier, "SIGNATURE_REQUIRED"),
        (needing, signed(leaf), None, "SIGNATURE_UNAVAILABLE"),
    ]
    for definition, supplied, maybe, reason in cases:
        with pytest.raises(DomainError) as error:
            await check_submission(definition, supplied, maybe, person(), DIGEST, NOW)
        assert error.value.reason == reason
    result = await check_submission(needing, signed(leaf), verifier, person(), DIGEST, NOW)
    assert result is not None and result.signer.national_id == ANNE


# ---- the proof ----


@pytest.mark.parametrize(
    ("language", "words"),
    [
        (Language.EN, "Signed by"),
        (Language.FR, "Signé par"),
        (Language.DE, "Unterzeichnet von"),
    ],
)
def test_the_proof_names_the_signer(language: Language, words: str) -> None:
    content = ProofContent(
        reference=generate_reference().display,
        submitted_at=NOW,
        procedure_code="signed-form",
        procedure_version=1,
        procedure_title="Signed form",
        applicant=Applicant(name="Anne Muller", national_id=ANNE),
        steps=[("About", [("Name", "Anne")])],
        answers_sha256=DIGEST,
        verify_url="https://guichet.example/verify",
        signer=Signer("Anne Muller", ANNE, "1A2B3C"),
    )
    text = " ".join(
        page.extract_text() for page in PdfReader(io.BytesIO(render_proof(content, language))).pages
    )
    flat = " ".join(text.split())
    assert words in flat and ANNE in flat and "1A2B3C" in flat
    unsigned = render_proof(ProofContent(**{**content.__dict__, "signer": None}), Language.EN)
    assert "Signed by" not in " ".join(
        p.extract_text() for p in PdfReader(io.BytesIO(unsigned)).pages
    )
