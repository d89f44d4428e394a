"""Translation between authentic data's domain and its protobuf messages."""

from __future__ import annotations

from datetime import date, datetime

from guichet.authentic_data.v1 import authentic_data_pb2 as pb
from guichet_authentic_data.access.chain import PERSON_READERS
from guichet_authentic_data.access.models import DataAccess
from guichet_authentic_data.access.purposes import purpose_label
from guichet_authentic_data.access.service import ReadValue
from guichet_authentic_data.certificates.document import TITLES, CertificateKind
from guichet_authentic_data.certificates.models import IssuedCertificate
from guichet_authentic_data.registers.display import role_text, value_text
from guichet_authentic_data.registers.fields import FIELDS, Money
from guichet_authentic_data.registers.records import AddressRecord
from guichet_authentic_data.registers.sources import SOURCES, Source, SourceCode
from guichet_authentic_data.reports.models import DataReport
from guichet_authentic_data.reports.status import ReportStatus, resolution_text, status_label
from guichet_kit.i18n import Catalog, Language, Text, render

_ = Catalog("guichet_authentic_data")

CERTIFICATE_KINDS: dict[pb.CertificateKind.ValueType, CertificateKind] = {
    pb.CERTIFICATE_KIND_RESIDENCE: CertificateKind.RESIDENCE,
    pb.CERTIFICATE_KIND_HOUSEHOLD_COMPOSITION: CertificateKind.HOUSEHOLD,
}
_KIND_TO_PROTO = {kind: value for value, kind in CERTIFICATE_KINDS.items()}
_ACCESSOR_KINDS = {
    "self": pb.ACCESSOR_KIND_SELF,
    "mandate_holder": pb.ACCESSOR_KIND_MANDATE_HOLDER,
    "platform_service": pb.ACCESSOR_KIND_PLATFORM_SERVICE,
    "administration": pb.ACCESSOR_KIND_ADMINISTRATION,
}
_STATUSES = {
    ReportStatus.SENT: pb.REPORT_STATUS_SENT,
    ReportStatus.RECEIVED: pb.REPORT_STATUS_RECEIVED,
    ReportStatus.CORRECTED: pb.REPORT_STATUS_CORRECTED,
    ReportStatus.REJECTED: pb.REPORT_STATUS_REJECTED,
}
# Names of the readers a person may meet in their access log.
_READERS: dict[str, Text] = {
    "identity": _("Identity and accounts service"),
    "procedures": _("Online procedures service"),
    "acd": _("Direct tax administration (ACD)"),
    "ccss": _("Joint social security centre (CCSS)"),
    "snca": _("National society for automobile traffic (SNCA)"),
    "cae": _("Children's future fund (CAE)"),
}


def source_to_proto(source: Source, read_at: datetime, language: Language) -> pb.Source:
    message = pb.Source(
        code=source.code.value,
        name=source.name.render(language),
        administration=source.administration,
    )
    message.read_at.FromDatetime(read_at)
    return message


def _address(address: AddressRecord) -> pb.Address:
    return pb.Address(
        street=address.street,
        house_number=address.house_number,
        postal_code=address.postal_code,
        locality=address.locality,
        commune=address.commune,
        country=address.country,
    )


def field_to_proto(value: ReadValue, language: Language) -> pb.DataField:
    spec = value.spec
    message = pb.DataField(
        name=spec.name,
        label=spec.label.render(language),
        display=value_text(spec.name, value.value, language),
        source=source_to_proto(value.source, value.read_at, language),
    )
    raw = value.value
    if raw is None:
        return message
    if isinstance(raw, Money):
        message.money.CopyFrom(pb.Money(amount_cents=raw.cents, currency=raw.currency))
    elif isinstance(raw, date):
        message.date = raw.isoformat()
    elif isinstance(raw, AddressRecord):
        message.address.CopyFrom(_address(raw))
    elif isinstance(raw, tuple):
        message.people.CopyFrom(
            pb.PersonList(
                people=[
                    pb.PersonReference(
                        national_id=person.national_id,
                        given_names=person.given_names,
                        surname=person.surname,
                        birth_date=person.birth_date.isoformat(),
                        role=person.role,
                        role_label=role_text(person.role, language),
                    )
                    for person in raw
                ]
            )
        )
    elif isinstance(raw, int):
        message.integer = raw
    else:
        message.text = raw
    return message


def fields_to_proto(values: list[ReadValue], language: Language) -> list[pb.DataField]:
    return [field_to_proto(value, language) for value in values]


def certificate_to_proto(
    certificate: IssuedCertificate, verify_url: str, language: Language
) -> pb.Certificate:
    kind = CertificateKind(certificate.kind)
    message = pb.Certificate(
        id=str(certificate.id),
        kind=_KIND_TO_PROTO[kind],
        kind_label=TITLES[kind].render(language),
        language=certificate.language,
        sha256=certificate.sha256,
        verify_url=verify_url,
    )
    message.issued_at.FromDatetime(certificate.issued_at)
    return message


def _reader_label(entry: DataAccess, viewer: str, company: bool, language: Language) -> str:
    kind, accessor = entry.accessor_kind, entry.accessor or ""
    if kind in PERSON_READERS and accessor == viewer:
        return _("You").render(language)
    if kind == "self":
        text = _("A member of the company's space") if company else _("The person themselves")
        return text.render(language)
    if kind == "mandate_holder":
        return _("A person acting with a mandate").render(language)
    return render(_READERS.get(accessor, accessor), language)


def access_to_proto(
    entry: DataAccess, viewer: str, language: Language, *, company: bool = False
) -> pb.DataAccess:
    """An access-log entry as `viewer` (a national id) reads it, in their own log, the log of a
    person they act for, or their company's."""
    message = pb.DataAccess(
        id=str(entry.access_id),
        accessor_kind=_ACCESSOR_KINDS.get(entry.accessor_kind, pb.ACCESSOR_KIND_UNSPECIFIED),
        accessor=entry.accessor or "",
        accessor_label=_reader_label(entry, viewer, company, language),
        agent=entry.agent or "",
        purpose=entry.purpose,
        purpose_label=render(purpose_label(entry.purpose), language),
        fields=list(entry.fields),
        request_reference=entry.request_reference or "",
    )
    message.accessed_at.FromDatetime(entry.accessed_at)
    return message


def report_to_proto(report: DataReport, language: Language) -> pb.DataReport:
    status = ReportStatus(report.status)
    spec = FIELDS.get(report.field)
    source = SOURCES[SourceCode(report.source)]
    message = pb.DataReport(
        id=str(report.id),
        field=report.field,
        field_label=spec.label.render(language) if spec else report.field,
        comment=report.comment,
        proposed_value=report.proposed_value,
        status=_STATUSES[status],
        status_label=status_label(status, language),
        resolution=resolution_text(report.resolution_code, language),
        source=source_to_proto(source, report.updated_at, language),
    )
    message.filed_at.FromDatetime(report.filed_at)
    message.updated_at.FromDatetime(report.updated_at)
    return message
