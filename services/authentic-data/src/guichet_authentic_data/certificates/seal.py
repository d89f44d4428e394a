"""The platform's seal on a PDF: PAdES (baseline B-B) with pyhanko, the seal certificate and its
chain embedded, so anyone can check it offline against the platform's CA."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers

SEAL_FIELD = "PlatformSeal"


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
        return await asyncio.to_thread(self._seal, pdf, reason, location)

    def _seal(self, pdf: bytes, reason: str, location: str) -> bytes:
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
