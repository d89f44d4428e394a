"""Purpose-bound reads (F55): check the purpose, read only its fields, log the read (F56).

Every check comes before the first register lookup and before the log: a refused read reads
nothing and leaves no entry claiming it did. The entry is written last, in the caller's
transaction, so a read that fails after all leaves none either.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from guichet_authentic_data.access import repository
from guichet_authentic_data.access.chain import AccessorKind
from guichet_authentic_data.access.models import DataAccess
from guichet_authentic_data.access.purposes import Purpose, find_purpose
from guichet_authentic_data.registers.fields import FIELDS, FieldSpec, Value
from guichet_authentic_data.registers.sources import SOURCES, Registers, Source, SourceCode
from guichet_kit import correlation
from guichet_kit.domain import FieldError, Forbidden, InvalidInput, NotFound
from guichet_kit.i18n import Catalog

_ = Catalog("guichet_authentic_data")

SubjectKind = Literal["person", "company"]
MAX_PAGE = 200


@dataclass(frozen=True)
class Subject:
    kind: SubjectKind
    # National id or company number, already validated.
    key: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.key}"


@dataclass(frozen=True)
class Reader:
    kind: AccessorKind
    # National id of a reading person, the service's name, the administration's code.
    name: str
    agent: str = ""


@dataclass(frozen=True)
class ReadValue:
    spec: FieldSpec
    # None: the source holds no value for it (e.g. no driving licence).
    value: Value | None
    source: Source
    read_at: datetime


@dataclass(frozen=True)
class PendingRead:
    """Values read and not yet logged: `record` logs them (last, just before the commit)."""

    purpose: Purpose
    subject: Subject
    reader: Reader
    request_reference: str
    values: list[ReadValue]
    # What each source said, for callers that need whole records (a certificate).
    records: dict[SourceCode, Any]


@dataclass(frozen=True)
class Read:
    access: DataAccess
    values: list[ReadValue]
    records: dict[SourceCode, Any]


class PurposeUnknown(InvalidInput):
    def __init__(self) -> None:
        message = _("This purpose is not in the registry of purposes.")
        super().__init__("PURPOSE_UNKNOWN", message, [FieldError("purpose", "unknown", message)])


class PurposeNotGranted(Forbidden):
    def __init__(self) -> None:
        super().__init__("PURPOSE_NOT_GRANTED", _("This purpose is not granted to the caller."))


class FieldOutsidePurpose(Forbidden):
    def __init__(self, fields: list[FieldError]) -> None:
        super().__init__(
            "FIELD_OUTSIDE_PURPOSE",
            _("Only the fields of the declared purpose can be read."),
            fields,
        )


class SubjectOfOtherKind(InvalidInput):
    def __init__(self, purpose: Purpose) -> None:
        message = (
            _("This purpose reads a person's data: give a national identification number.")
            if purpose.subject_kind == "person"
            else _("This purpose reads a company's data: give a company number.")
        )
        super().__init__(
            "INVALID_DATA_READ", message, [FieldError("subject", "wrong_kind", message)]
        )


class RegisterEntryNotFound(NotFound):
    """The register has no entry for the subject (no read happened, nothing is logged)."""

    def __init__(self) -> None:
        super().__init__(
            "REGISTER_ENTRY_NOT_FOUND", _("The national register has no entry for this person.")
        )


class CompanyNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(
            "COMPANY_NOT_FOUND",
            _("The trade and companies register has no entry for this company."),
        )


class DrivingLicenceNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(
            "DRIVING_LICENCE_NOT_FOUND",
            _("The driving licence register has no licence for this person."),
        )


class VatAccountNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("VAT_ACCOUNT_NOT_FOUND", _("This company has no VAT account."))


# What a missing entry of each register means for a read that needs it.
ENTRY_NOT_FOUND: dict[SourceCode, Callable[[], NotFound]] = {
    SourceCode.NATIONAL_REGISTER: RegisterEntryNotFound,
    SourceCode.TAX_CREDITS: RegisterEntryNotFound,
    SourceCode.COMPANY_REGISTER: CompanyNotFound,
    SourceCode.DRIVING_LICENCES: DrivingLicenceNotFound,
    SourceCode.VAT_ACCOUNTS: VatAccountNotFound,
}


def _allowed(purpose: Purpose, reader: Reader) -> bool:
    if reader.kind in ("self", "mandate_holder"):
        return purpose.self_service
    if reader.kind == "platform_service":
        return reader.name in purpose.services
    return reader.name in purpose.administrations


def check_read(
    purpose_code: str, subject: Subject, requested: list[str], reader: Reader
) -> tuple[Purpose, list[FieldSpec]]:
    """The purpose and the fields a read may return, or the refusal; reads nothing."""
    purpose = find_purpose(purpose_code)
    if purpose is None:
        raise PurposeUnknown()
    if not _allowed(purpose, reader):
        raise PurposeNotGranted()
    if purpose.subject_kind != subject.kind:
        raise SubjectOfOtherKind(purpose)
    outside = [
        FieldError(
            f"fields[{index}]",
            "outside_purpose",
            _("This field is not one of the purpose's fields."),
        )
        for index, name in enumerate(requested)
        if name not in purpose.fields
    ]
    if outside:
        raise FieldOutsidePurpose(outside)
    names = list(dict.fromkeys(requested)) or list(purpose.fields)
    return purpose, [FIELDS[name] for name in names]


async def _records(
    registers: Registers, subject: Subject, sources: set[SourceCode]
) -> dict[SourceCode, Any]:
    lookups = {
        SourceCode.NATIONAL_REGISTER: registers.person,
        SourceCode.DRIVING_LICENCES: registers.driving_licence,
        SourceCode.TAX_CREDITS: registers.tax_credit,
        SourceCode.COMPANY_REGISTER: registers.company,
        SourceCode.VAT_ACCOUNTS: registers.vat_account,
    }
    return {source: await lookups[source](subject.key) for source in sorted(sources)}


async def read_values(
    registers: Registers,
    *,
    purpose: str,
    subject: Subject,
    fields: list[str],
    reader: Reader,
    request_reference: str = "",
    required: SourceCode | None = None,
) -> PendingRead:
    """Read `fields` (all of the purpose's when empty) of `subject`, after every check.

    The subject's own register (national or company) must have an entry, and so must
    `required`'s when given; otherwise nothing is read and nothing logged."""
    the_purpose, specs = check_read(purpose, subject, fields, reader)
    main = SourceCode.NATIONAL_REGISTER if subject.kind == "person" else SourceCode.COMPANY_REGISTER
    sources = {spec.source_code for spec in specs} | {main} | ({required} if required else set())
    records = await _records(registers, subject, sources)
    for source in (main, required):
        if source is not None and records.get(source) is None:
            raise ENTRY_NOT_FOUND[source]()
    read_at = datetime.now(UTC)
    values = [
        ReadValue(
            spec,
            spec.read(records[spec.source_code]) if records[spec.source_code] else None,
            SOURCES[spec.source_code],
            read_at,
        )
        for spec in specs
    ]
    return PendingRead(the_purpose, subject, reader, request_reference, values, records)


async def record(session: AsyncSession, pending: PendingRead) -> Read:
    """Log the read in the caller's transaction (this takes the log's lock until the commit)."""
    access = await repository.append(
        session,
        repository.NewEntry(
            subject=str(pending.subject),
            accessor_kind=pending.reader.kind,
            accessor=pending.reader.name,
            purpose=pending.purpose.code,
            fields=[value.spec.name for value in pending.values],
            agent=pending.reader.agent,
            request_reference=pending.request_reference,
            correlation_id=correlation.current() or "",
        ),
    )
    return Read(access, pending.values, pending.records)


async def read_for_purpose(
    session: AsyncSession,
    registers: Registers,
    *,
    purpose: str,
    subject: Subject,
    fields: list[str],
    reader: Reader,
    request_reference: str = "",
    required: SourceCode | None = None,
) -> Read:
    """Read and log: the whole of a purpose-bound read."""
    pending = await read_values(
        registers,
        purpose=purpose,
        subject=subject,
        fields=fields,
        reader=reader,
        request_reference=request_reference,
        required=required,
    )
    return await record(session, pending)


async def accesses_of(
    session: AsyncSession, subject: Subject, limit: int, before_id: int | None
) -> list[DataAccess]:
    return await repository.entries_of(session, str(subject), min(limit, MAX_PAGE), before_id)
