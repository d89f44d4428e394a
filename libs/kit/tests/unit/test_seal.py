"""The platform seal, with the development PKI of `make infra` (deploy/pki/dev-pki.sh): a sealed
PDF checks out against the platform CA; one changed byte, an appended revision, a second
signature, or a seal made under another CA are each refused with their own reason."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from guichet_kit.i18n import Language
from guichet_kit.seal import SEAL_PROBLEMS, Sealer, SealProblem, verify_seal
from guichet_testkit.pki import development_pki

PLATFORM_SEAL_NAME = "OpenGuichet platform seal"


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


def _a_pdf() -> bytes:
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=A4, pageCompression=0)  # text readable in the bytes
    page.drawString(100, 700, "Residence certificate of Anne Muller")
    page.save()
    return buffer.getvalue()


def _flip_a_signed_byte(pdf: bytes) -> bytes:
    changed = bytearray(pdf)
    changed[pdf.index(b"Anne")] ^= 0x01  # inside the page's content: covered by the seal
    return bytes(changed)


def _seal_from_another_ca(ca_dir: Path, out: Path) -> Sealer:
    """What a forger can make: a certificate named like the platform's seal, from another CA."""
    ca_cert = x509.load_pem_x509_certificate((ca_dir / "ca.crt").read_bytes())
    ca_key = serialization.load_pem_private_key((ca_dir / "ca.key").read_bytes(), password=None)
    assert isinstance(ca_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "OpenGuichet platform seal")])
        )
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


async def test_a_sealed_pdf_is_genuine_against_the_platform_ca(sealer: Sealer, pki: Path) -> None:
    sealed = await sealer.seal(_a_pdf(), reason="Certificate")

    check = await verify_seal(sealed, [pki / "ca.crt"])

    assert (check.genuine, check.unchanged, check.problem) == (True, True, None)
    assert check.signer == PLATFORM_SEAL_NAME
    assert check.message is None


async def test_one_changed_byte_is_refused(sealer: Sealer, pki: Path) -> None:
    sealed = await sealer.seal(_a_pdf(), reason="Certificate")

    check = await verify_seal(_flip_a_signed_byte(sealed), [pki / "ca.crt"])

    assert (check.genuine, check.unchanged, check.problem) == (False, False, "changed")


async def test_bytes_appended_after_the_seal_are_refused(sealer: Sealer, pki: Path) -> None:
    sealed = await sealer.seal(_a_pdf(), reason="Certificate")

    check = await verify_seal(sealed + b"\n% a note\n", [pki / "ca.crt"])

    assert (check.genuine, check.problem) == (False, "appended")


def _incremental_update(pdf: bytes) -> bytes:
    """A valid new revision on top of the sealed one, as any PDF editor saves a change."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    writer.root["/Lang"] = generic.TextStringObject("de")
    writer.update_root()  # type: ignore[no-untyped-call]
    updated = io.BytesIO()
    writer.write(updated)  # type: ignore[no-untyped-call]
    return updated.getvalue()


def _signed_again(pdf: bytes, pki: Path) -> bytes:
    signer = signers.SimpleSigner.load(  # type: ignore[no-untyped-call]
        key_file=str(pki / "seal" / "platform-seal.key"),
        cert_file=str(pki / "seal" / "platform-seal.crt"),
    )
    metadata = signers.PdfSignatureMetadata(field_name="Second")
    twice = signers.PdfSigner(metadata, signer=signer).sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(pdf))
    )
    assert isinstance(twice, io.BytesIO)
    return twice.getvalue()


async def test_an_incremental_update_after_the_seal_is_refused(sealer: Sealer, pki: Path) -> None:
    sealed = await sealer.seal(_a_pdf(), reason="Certificate")
    updated = _incremental_update(sealed)
    assert updated.startswith(sealed) and len(updated) > len(sealed)

    check = await verify_seal(updated, [pki / "ca.crt"])

    assert (check.genuine, check.unchanged, check.problem) == (False, False, "appended")


async def test_a_second_signature_is_refused(sealer: Sealer, pki: Path) -> None:
    sealed = await sealer.seal(_a_pdf(), reason="Certificate")
    # Even one by the platform's own key: the platform seals once. (pyhanko's synchronous
    # signing runs its own event loop, hence the thread.)
    twice = await asyncio.to_thread(_signed_again, sealed, pki)

    check = await verify_seal(twice, [pki / "ca.crt"])

    assert (check.genuine, check.problem) == (False, "several_signatures")


async def test_a_seal_made_under_another_ca_is_not_genuine(pki: Path, tmp_path: Path) -> None:
    forged = await _seal_from_another_ca(pki / "rogue", tmp_path).seal(_a_pdf(), reason="x")

    check = await verify_seal(forged, [pki / "ca.crt"])

    # Unchanged since its (forged) seal, but not the platform's: the name proves nothing.
    assert (check.genuine, check.unchanged, check.problem) == (False, True, "untrusted")
    assert check.signer == PLATFORM_SEAL_NAME


async def test_the_same_seal_is_untrusted_against_another_ca(sealer: Sealer, pki: Path) -> None:
    sealed = await sealer.seal(_a_pdf(), reason="Certificate")

    check = await verify_seal(sealed, [pki / "rogue" / "ca.crt"])

    assert (check.genuine, check.problem) == (False, "untrusted")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "not_a_pdf"),
        (b"GIF89a not a pdf", "not_a_pdf"),
        (b"%PDF-1.7\n garbage without any structure", "not_a_pdf"),
        (None, "not_sealed"),
    ],
)
async def test_files_without_a_seal_are_refused_with_a_reason(
    content: bytes | None, problem: SealProblem, pki: Path
) -> None:
    check = await verify_seal(_a_pdf() if content is None else content, [pki / "ca.crt"])

    assert (check.genuine, check.unchanged, check.problem) == (False, False, problem)
    assert check.message is not None
    assert check.message.render(Language.EN) == SEAL_PROBLEMS[problem].msgid


async def test_a_truncated_sealed_pdf_is_refused(sealer: Sealer, pki: Path) -> None:
    sealed = await sealer.seal(_a_pdf(), reason="Certificate")

    check = await verify_seal(sealed[: len(sealed) // 2], [pki / "ca.crt"])

    assert (check.genuine, check.problem) == (False, "not_a_pdf")
