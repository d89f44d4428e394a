"""The proof of deposit: rendered in fr/de/en, sealed with the development seal of `make infra`
(deploy/pki/dev-pki.sh), verified against the platform CA; one changed byte, an appended
revision, a seal from another CA, or a sealed PDF that is no proof are refused."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pypdf import PdfReader
from reportlab.pdfgen import canvas

from guichet_kit.i18n import Language
from guichet_kit.seal import Sealer
from guichet_procedures.requests.proof import (
    Applicant,
    ProofAnswer,
    ProofContent,
    ProofStep,
    answers_digest,
    render_proof,
    seal_proof,
    verify_proof,
)
from guichet_procedures.requests.references import InvalidRequestReference, generate_reference
from guichet_testkit.pki import development_pki

ANSWERS = {
    "moving_date": "2025-03-01",
    "new_address": {
        "street": "Rue de l'Église",
        "house_number": "12",
        "postcode": "1234",
        "locality": "Luxembourg",
        "country": "LU",
    },
    "children": [{"name": "Léa", "birth_date": "2015-09-03"}],
    "pets": False,
}
REFERENCE = generate_reference()
VERIFY_URL = "http://127.0.0.1:8000/procedures/verify"
TITLES = {
    Language.FR: "Preuve de dépôt",
    Language.DE: "Einreichungsbestätigung",
    Language.EN: "Proof of deposit",
}


def _content(**changes: Any) -> ProofContent:
    content = ProofContent(
        reference=REFERENCE.display,
        submitted_at=dt.datetime(2025, 3, 3, 13, 5, tzinfo=dt.UTC),
        procedure_code="change-of-address",
        procedure_version=3,
        procedure_title="Change of address",
        applicant=Applicant(name="Anne Müller", national_id="1980010112312"),
        steps=[
            ProofStep(
                "Your move",
                [
                    ProofAnswer("Moving date", "1 March 2025"),
                    ProofAnswer("New address", "Rue de l'Église 12\nL-1234 Luxembourg"),
                ],
            ),
            ("Household", [("Children", "Léa, born on 3 September 2015"), ("Pets", "No")]),
        ],
        answers_sha256=answers_digest(ANSWERS),
        verify_url=VERIFY_URL,
    )
    return replace(content, **changes)


def _text(pdf: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


@pytest.fixture(scope="module")
def pki() -> Path:
    return development_pki()


@pytest.fixture(scope="module")
def sealer(pki: Path) -> Sealer:
    return Sealer(
        pki / "seal" / "platform-seal.crt",
        pki / "seal" / "platform-seal.key",
        chain=(pki / "ca.crt",),
    )


@pytest.fixture(scope="module")
async def sealed(sealer: Sealer) -> bytes:
    return await seal_proof(sealer, render_proof(_content(), Language.EN))


def test_the_digest_is_sha256_of_the_canonical_json() -> None:
    canonical = (
        '{"children":[{"birth_date":"2015-09-03","name":"Léa"}],"moving_date":"2025-03-01",'
        '"new_address":{"country":"LU","house_number":"12","locality":"Luxembourg",'
        '"postcode":"1234","street":"Rue de l\'Église"},"pets":false}'
    )
    assert answers_digest(ANSWERS) == hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    reordered = dict(reversed(list(ANSWERS.items())))
    assert answers_digest(reordered) == answers_digest(ANSWERS)
    assert answers_digest({**ANSWERS, "pets": True}) != answers_digest(ANSWERS)


@pytest.mark.parametrize("language", [Language.FR, Language.DE, Language.EN])
def test_the_proof_says_everything_in_the_persons_language(language: Language) -> None:
    pdf = render_proof(_content(), language)

    text = _text(pdf)
    assert pdf.startswith(b"%PDF")
    for expected in (
        TITLES[language],
        "OpenGuichet",
        REFERENCE.display,
        "change-of-address",
        "Anne Müller",
        "1980010112312",
        "Your move",
        "Moving date",
        "1 March 2025",
        "L-1234 Luxembourg",
        "Household",
        "Léa, born on 3 September 2015",
        answers_digest(ANSWERS),
        VERIFY_URL,
    ):
        assert expected in text, expected
    # Submitted at 13:05 UTC: 14:05 in Luxembourg, in the language's words.
    assert "14:05" in text
    assert {"fr": "mars", "de": "März", "en": "March"}[language.value] in text
    metadata = PdfReader(io.BytesIO(pdf)).metadata
    assert metadata is not None
    assert f"openguichet-reference={REFERENCE.display}" in str(metadata["/Keywords"])
    assert f"openguichet-answers-sha256={answers_digest(ANSWERS)}" in str(metadata["/Keywords"])


def test_a_company_applicant_is_named_with_its_number() -> None:
    applicant = Applicant(
        name="Paul Weber", company_name="Boulangerie Weber", company_number="B123456"
    )

    text = _text(render_proof(_content(applicant=applicant), Language.EN))

    assert "Boulangerie Weber (B123456)" in text
    assert "Paul Weber" in text


def test_the_same_content_gives_the_same_bytes() -> None:
    assert render_proof(_content(), Language.DE) == render_proof(_content(), Language.DE)


def test_long_answers_run_over_several_pages() -> None:
    long_text = ("A very long explanation. " * 160).strip()  # the long-text limit is 4000
    steps = [ProofStep(f"Step {n}", [ProofAnswer(f"Field {n}", long_text)]) for n in range(6)]

    pdf = render_proof(_content(steps=steps), Language.EN)

    assert len(PdfReader(io.BytesIO(pdf)).pages) > 3
    assert "Field 5" in _text(pdf)


def test_a_proof_with_a_malformed_reference_or_digest_is_not_drawn() -> None:
    with pytest.raises(InvalidRequestReference):
        render_proof(_content(reference="ET-1234-5678-9"), Language.EN)
    with pytest.raises(ValueError, match="answers_sha256"):
        render_proof(_content(answers_sha256="not a digest"), Language.EN)


async def test_a_sealed_proof_is_genuine_and_names_its_request(sealed: bytes, pki: Path) -> None:
    check = await verify_proof(sealed, [pki / "ca.crt"])

    assert (check.genuine, check.unchanged, check.reason) == (True, True, None)
    assert (check.reference, check.digest) == (REFERENCE.display, answers_digest(ANSWERS))
    assert check.message is None


async def test_one_changed_byte_is_refused(sealed: bytes, pki: Path) -> None:
    changed = bytearray(sealed)
    changed[sealed.index(b"stream") + 40] ^= 0x01  # inside the first content stream: signed

    check = await verify_proof(bytes(changed), [pki / "ca.crt"])

    assert (check.genuine, check.unchanged, check.reason) == (False, False, "changed")
    assert (check.reference, check.digest) == (None, None)


async def test_an_incremental_update_after_the_seal_is_refused(sealed: bytes, pki: Path) -> None:
    # What an editor saving "a small fix" does: a new revision on top of the sealed one.
    writer = IncrementalPdfFileWriter(io.BytesIO(sealed))
    info = writer.trailer["/Info"]
    info["/Keywords"] = generic.TextStringObject(
        str(info["/Keywords"]).replace(answers_digest(ANSWERS), answers_digest({}))
    )
    writer.update_container(info)
    updated = io.BytesIO()
    writer.write(updated)  # type: ignore[no-untyped-call]
    assert updated.getvalue().startswith(sealed) and len(updated.getvalue()) > len(sealed)

    check = await verify_proof(updated.getvalue(), [pki / "ca.crt"])

    assert (check.genuine, check.reason, check.digest) == (False, "appended", None)


async def test_a_proof_sealed_under_another_ca_is_refused(pki: Path, tmp_path: Path) -> None:
    forger = _seal_from_another_ca(pki / "rogue", tmp_path)
    forged = await seal_proof(forger, render_proof(_content(), Language.EN))

    check = await verify_proof(forged, [pki / "ca.crt"])

    assert (check.genuine, check.unchanged, check.reason) == (False, True, "untrusted")
    assert (check.reference, check.digest) == (None, None)
    assert check.message is not None


async def test_a_pdf_the_platform_sealed_that_is_no_proof_is_refused(
    sealer: Sealer, pki: Path
) -> None:
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer)
    page.drawString(100, 700, "Residence certificate")
    page.save()
    certificate = await sealer.seal(buffer.getvalue(), reason="Residence certificate")

    check = await verify_proof(certificate, [pki / "ca.crt"])

    assert (check.genuine, check.unchanged, check.reason) == (False, True, "not_a_proof")
    assert check.message is not None
    assert "not a proof of deposit" in check.message.render(Language.EN)


async def test_an_unsealed_proof_or_another_file_is_refused(pki: Path) -> None:
    unsealed = await verify_proof(render_proof(_content(), Language.EN), [pki / "ca.crt"])
    not_a_pdf = await verify_proof(b"PK\x03\x04 a zip, not a proof", [pki / "ca.crt"])

    assert (unsealed.genuine, unsealed.reason) == (False, "not_sealed")
    assert (not_a_pdf.genuine, not_a_pdf.reason) == (False, "not_a_pdf")


async def test_how_long_one_seal_takes_here(sealer: Sealer) -> None:
    pdf = render_proof(_content(), Language.FR)
    await seal_proof(sealer, pdf)  # the first one loads pyhanko's lazy parts
    rounds = 5
    started = time.perf_counter()
    for _round in range(rounds):
        await seal_proof(sealer, pdf)
    sealing = (time.perf_counter() - started) / rounds
    started = time.perf_counter()
    for _round in range(rounds):
        await asyncio.to_thread(render_proof, _content(), Language.FR)
    rendering = (time.perf_counter() - started) / rounds
    print(f"\nproof of deposit: render {rendering * 1000:.0f} ms, seal {sealing * 1000:.0f} ms")


def _seal_from_another_ca(ca_dir: Path, out: Path) -> Sealer:
    """What a forger can make: a certificate named like the platform's seal, from another CA."""
    ca_cert = x509.load_pem_x509_certificate((ca_dir / "ca.crt").read_bytes())
    ca_key = serialization.load_pem_private_key((ca_dir / "ca.key").read_bytes(), password=None)
    assert isinstance(ca_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "OpenGuichet platform seal")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    (out / "forged.crt").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (out / "forged.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Sealer(out / "forged.crt", out / "forged.key", chain=(ca_dir / "ca.crt",))
