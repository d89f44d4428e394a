"""The catalogue of fields: every value a caller can ask for, its source, its label and its type.

Field ids are stable (`person.surname`, `driving_licence.points`, ...): purposes list them, the
access log records them, reports name them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from guichet_authentic_data.registers.records import AddressRecord, PersonRef
from guichet_authentic_data.registers.sources import SOURCES, Source, SourceCode
from guichet_kit.i18n import Catalog, Text

_ = Catalog("guichet_authentic_data")


@dataclass(frozen=True, slots=True)
class Money:
    cents: int
    currency: str = "EUR"


Value = str | date | int | Money | AddressRecord | tuple[PersonRef, ...]
Kind = Literal["text", "date", "integer", "money", "address", "people"]


@dataclass(frozen=True)
class FieldSpec:
    name: str
    source_code: SourceCode
    label: Text
    kind: Kind
    # Reads the value from the source's record (a PersonRecord, a CompanyRecord, ...).
    read: Callable[[Any], Value | None]

    @property
    def source(self) -> Source:
        return SOURCES[self.source_code]

    @property
    def subject_kind(self) -> str:
        return self.source.subject_kind


def _spouse(record: Any) -> tuple[PersonRef, ...]:
    return (record.spouse,) if record.spouse is not None else ()


def _cents(attribute: str) -> Callable[[Any], Money]:
    return lambda record: Money(getattr(record, attribute))


def _spec(
    name: str,
    source: SourceCode,
    label: Text,
    kind: Kind,
    read: str | Callable[[Any], Value | None],
) -> FieldSpec:
    reader = (lambda record: getattr(record, read)) if isinstance(read, str) else read
    return FieldSpec(name, source, label, kind, reader)


_N = SourceCode.NATIONAL_REGISTER
_D = SourceCode.DRIVING_LICENCES
_T = SourceCode.TAX_CREDITS
_C = SourceCode.COMPANY_REGISTER
_V = SourceCode.VAT_ACCOUNTS

_SPECS = (
    _spec("person.national_id", _N, _("National identification number"), "text", "national_id"),
    _spec("person.given_names", _N, _("Given names"), "text", "given_names"),
    _spec("person.surname", _N, _("Surname"), "text", "surname"),
    _spec("person.birth_date", _N, _("Date of birth"), "date", "birth_date"),
    _spec("person.birth_place", _N, _("Place of birth"), "text", "birth_place"),
    _spec("person.sex", _N, _("Sex"), "text", "sex"),
    _spec("person.nationality", _N, _("Nationality"), "text", "nationality"),
    _spec("person.address", _N, _("Address"), "address", "address"),
    _spec("person.marital_status", _N, _("Marital status"), "text", "marital_status"),
    _spec("person.spouse", _N, _("Spouse or partner"), "people", _spouse),
    _spec("person.children", _N, _("Children"), "people", "children"),
    _spec("person.parents", _N, _("Parents"), "people", "parents"),
    _spec("person.household", _N, _("Household"), "people", "household"),
    _spec("driving_licence.number", _D, _("Driving licence number"), "text", "number"),
    _spec("driving_licence.categories", _D, _("Categories"), "text", "categories"),
    _spec("driving_licence.points", _D, _("Points left (of 12)"), "integer", "points"),
    _spec("driving_licence.valid_until", _D, _("Valid until"), "date", "valid_until"),
    _spec("tax_credit.ceiling", _T, _("Ceiling"), "money", _cents("ceiling_cents")),
    _spec("tax_credit.used", _T, _("Used"), "money", _cents("used_cents")),
    _spec("tax_credit.remaining", _T, _("Left"), "money", _cents("remaining_cents")),
    _spec("company.number", _C, _("Company number"), "text", "number"),
    _spec("company.name", _C, _("Company name"), "text", "name"),
    _spec("company.legal_form", _C, _("Legal form"), "text", "legal_form"),
    _spec("company.address", _C, _("Registered office"), "address", "address"),
    _spec("company.registered_on", _C, _("Registered on"), "date", "registered_on"),
    _spec("company.directors", _C, _("Managers and directors"), "people", "directors"),
    _spec("vat.number", _V, _("VAT number"), "text", "vat_number"),
    _spec("vat.balance", _V, _("Balance (positive: owed)"), "money", _cents("balance_cents")),
    _spec("vat.last_return_period", _V, _("Last return"), "text", "last_return_period"),
)

FIELDS: dict[str, FieldSpec] = {spec.name: spec for spec in _SPECS}


def fields_of(source: SourceCode) -> tuple[str, ...]:
    return tuple(spec.name for spec in _SPECS if spec.source_code == source)


def find_field(name: str) -> FieldSpec | None:
    return FIELDS.get(name)
