"""Issuing a certificate (read, render, seal, record, log) and verifying one by its id."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from guichet_authentic_data.access import service as access
from guichet_authentic_data.access.purposes import HOUSEHOLD_CERTIFICATE, RESIDENCE_CERTIFICATE
from guichet_authentic_data.certificates.document import (
    TITLES,
    CertificateFacts,
    CertificateKind,
    render_certificate,
)
from guichet_authentic_data.certificates.models import IssuedCertificate
from guichet_authentic_data.registers.records import PersonRecord
from guichet_authentic_data.registers.sources import Registers, SourceCode
from guichet_kit.domain import NotFound
from guichet_kit.i18n import Catalog, Language
from guichet_kit.seal import Sealer

_ = Catalog("guichet_authentic_data")

_PURPOSES = {
    CertificateKind.RESIDENCE: RESIDENCE_CERTIFICATE,
    CertificateKind.HOUSEHOLD: HOUSEHOLD_CERTIFICATE,
}


class CertificateNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(
            "CERTIFICATE_NOT_FOUND", _("The platform issued no certificate with this id.")
        )


@dataclass(frozen=True)
class Issued:
    certificate: IssuedCertificate
    pdf: bytes
    verify_url: str


def verify_url(public_base_url: str, certificate_id: uuid.UUID) -> str:
    return f"{public_base_url.rstrip('/')}/verify/{certificate_id}"


async def issue_certificate(
    session: AsyncSession,
    registers: Registers,
    sealer: Sealer,
    *,
    kind: CertificateKind,
    language: Language,
    subject: access.Subject,
    reader: access.Reader,
    public_base_url: str,
) -> Issued:
    pending = await access.read_values(
        registers, purpose=_PURPOSES[kind], subject=subject, fields=[], reader=reader
    )
    person = pending.records[SourceCode.NATIONAL_REGISTER]
    assert isinstance(person, PersonRecord)
    certificate_id = uuid.uuid4()
    issued_at = datetime.now(UTC)
    url = verify_url(public_base_url, certificate_id)
    facts = CertificateFacts(str(certificate_id), kind, language, issued_at, url)
    unsealed = await asyncio.to_thread(render_certificate, facts, person)
    pdf = await sealer.seal(unsealed, reason=TITLES[kind].render(language))
    certificate = IssuedCertificate(
        id=certificate_id,
        subject=str(subject),
        kind=kind.value,
        language=language.value,
        sha256=hashlib.sha256(pdf).hexdigest(),
        issued_at=issued_at,
    )
    session.add(certificate)
    await session.flush()
    # Logged last: the log's lock is held only from here to the commit, not while sealing.
    await access.record(session, pending)
    return Issued(certificate, pdf, url)


async def find_certificate(session: AsyncSession, certificate_id: uuid.UUID) -> IssuedCertificate:
    certificate = await session.scalar(
        select(IssuedCertificate).where(IssuedCertificate.id == certificate_id)
    )
    if certificate is None:
        raise CertificateNotFound()
    return certificate


async def forget_holder(session: AsyncSession, subject: str) -> int:
    result = await session.execute(
        update(IssuedCertificate).where(IssuedCertificate.subject == subject).values(subject=None)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
