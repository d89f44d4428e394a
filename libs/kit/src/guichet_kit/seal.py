"""The platform's seal on a PDF, and its check.

Sealing is PAdES (baseline B-B) with pyhanko, the seal certificate and its chain embedded, so
anyone can check it offline against the platform's CA. `verify_seal` is the one answer to "did the
platform seal this file, and is it the file it sealed?" for every service that issues sealed PDFs.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeAlias

from asn1crypto import x509 as asn1_x509  # type: ignore[import-untyped]
from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from guichet_kit.i18n import Catalog, Text

SEAL_FIELD = "PlatformSeal"

_ = Catalog("guichet_kit")


class Sealer:
    """Loaded once per process (reading the key is not free); `seal` may run concurrently."""

    def __init__(
        self,
        certificate: Path,
        private_key: Path,
        chain: tuple[Path, ...] = (),
        passphrase: bytes | None = None,
    ) -> None:
        signer = signers.SimpleSigner.load(  # type: ignore[no-untyped-call]
            key_file=str(private_key),
            cert_file=str(certificate),
            ca_chain_files=tuple(str(path) for path in chain),
            key_passphrase=passphrase,
        )
        if signer is None:
            raise ValueError(f"cannot load the seal from {certificate} and {private_key}")
        self._signer = signer

    async def seal(self, pdf: bytes, *, reason: str, location: str = "Luxembourg") -> bytes:
        # A seal is ~0.3 s of CPU: in a thread, so the process keeps answering other calls.
        return await asyncio.to_thread(self.seal_now, pdf, reason=reason, location=location)

    def seal_now(self, pdf: bytes, *, reason: str, location: str = "Luxembourg") -> bytes:
        """The same seal in the calling thread (for code that is already off the event loop)."""
        metadata = signers.PdfSignatureMetadata(
            field_name=SEAL_FIELD,
            md_algorithm="sha256",
            subfilter=fields.SigSeedSubFilter.PADES,
            reason=reason,
            location=location,
        )
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
        output = signers.PdfSigner(metadata, signer=self._signer).sign_pdf(writer)
        assert isinstance(output, io.BytesIO)
        return output.getvalue()


# Why a file is refused, first failing check wins; None when the seal is genuine and whole.
SealProblem = Literal[
    "not_a_pdf",  # unreadable as a PDF
    "not_sealed",  # no signature at all
    "several_signatures",  # the platform seals once; anything more was added by someone else
    "changed",  # the sealed bytes were altered (the digest no longer matches)
    "appended",  # bytes or revisions were added after the seal
    "untrusted",  # signed, but not by a certificate the trust roots vouch for
]

SEAL_PROBLEMS: dict[SealProblem, Text] = {
    "not_a_pdf": _("This file is not a readable PDF."),
    "not_sealed": _("This PDF carries no electronic seal."),
    "several_signatures": _("This PDF carries more than one signature: it is not as issued."),
    "changed": _("This PDF was changed after it was sealed."),
    "appended": _("Something was added to this PDF after it was sealed."),
    "untrusted": _("This PDF was not sealed by the platform."),
}


@dataclass(frozen=True, slots=True)
class SealCheck:
    """What a file's seal says. `unchanged`: the file is byte for byte the one that was sealed
    (whoever sealed it); `genuine`: unchanged and sealed by a certificate of the trust roots."""

    genuine: bool
    unchanged: bool
    problem: SealProblem | None
    signer: str | None = None  # the seal certificate's common name, when there is a seal

    @property
    def message(self) -> Text | None:
        return SEAL_PROBLEMS[self.problem] if self.problem else None


TrustRoot: TypeAlias = Path | asn1_x509.Certificate


def load_trust_roots(roots: Iterable[TrustRoot]) -> tuple[asn1_x509.Certificate, ...]:
    """The CA certificates (PEM or DER files) a seal must chain to; load once, check often."""
    return tuple(
        root if isinstance(root, asn1_x509.Certificate) else load_cert_from_pemder(str(root))  # type: ignore[no-untyped-call]
        for root in roots
    )


async def verify_seal(pdf: bytes, trust_roots: Iterable[TrustRoot]) -> SealCheck:
    """Check a PDF's seal against `trust_roots`, with no network: the signature's digest covers
    the whole file as received (one byte changed or appended is refused), and the signing
    certificate chains to one of the roots. In a thread: parsing and hashing are CPU-bound."""
    roots = load_trust_roots(trust_roots)
    return await asyncio.to_thread(_verify, pdf, roots)


def _verify(pdf: bytes, roots: tuple[asn1_x509.Certificate, ...]) -> SealCheck:
    try:
        signatures = PdfFileReader(io.BytesIO(pdf), strict=False).embedded_signatures
    except Exception:  # a damaged file fails the parser in many ways; none is a seal
        return SealCheck(genuine=False, unchanged=False, problem="not_a_pdf")
    if not signatures:
        return SealCheck(genuine=False, unchanged=False, problem="not_sealed")
    if len(signatures) > 1:
        return SealCheck(genuine=False, unchanged=False, problem="several_signatures")
    try:
        # Its own event loop in this thread; diff analysis is moot: only ENTIRE_FILE passes.
        status = validate_pdf_signature(
            signatures[0], ValidationContext(trust_roots=list(roots)), skip_diff=True
        )
    except Exception:  # a mangled signature dictionary or CMS blob
        return SealCheck(genuine=False, unchanged=False, problem="changed")
    return _judge(status)


def _judge(status: PdfSignatureStatus) -> SealCheck:
    signer = _common_name(status)
    if not (status.intact and status.valid):
        return SealCheck(genuine=False, unchanged=False, problem="changed", signer=signer)
    # ENTIRE_FILE: the signed byte ranges are the whole file; an incremental update or bytes
    # appended after the seal leave it at ENTIRE_REVISION or less.
    if status.coverage != SignatureCoverageLevel.ENTIRE_FILE:
        return SealCheck(genuine=False, unchanged=False, problem="appended", signer=signer)
    if not status.trusted:
        return SealCheck(genuine=False, unchanged=True, problem="untrusted", signer=signer)
    return SealCheck(genuine=True, unchanged=True, problem=None, signer=signer)


def _common_name(status: PdfSignatureStatus) -> str | None:
    name = status.signing_cert.subject.native.get("common_name")
    return str(name) if name else None
