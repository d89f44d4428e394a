"""The registry of purposes: why someone may read authentic data, which fields that allows, and
who may declare it. A read names one purpose; it gets only that purpose's fields.

Who may use a purpose: the person themselves (`citizen:*`, through their own space), platform
services by the common name of their certificate, administrations by their code (the common name
of their certificate from the administrations' CA). Procedures prefill forms with a purpose per
procedure, `procedures:prefill:<procedure code>`.
"""

from __future__ import annotations

from dataclasses import dataclass

from guichet_authentic_data.registers.fields import FIELDS, fields_of
from guichet_authentic_data.registers.sources import SourceCode
from guichet_kit.i18n import Catalog, Text

_ = Catalog("guichet_authentic_data")


@dataclass(frozen=True)
class Purpose:
    code: str
    label: Text
    subject_kind: str  # "person" or "company"
    fields: tuple[str, ...]
    self_service: bool = False
    services: frozenset[str] = frozenset()
    administrations: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        unknown = [name for name in self.fields if name not in FIELDS]
        wrong_kind = [
            name
            for name in self.fields
            if name in FIELDS and FIELDS[name].subject_kind != self.subject_kind
        ]
        if unknown or wrong_kind:
            raise ValueError(f"purpose {self.code}: bad fields {unknown + wrong_kind}")


_PERSON = fields_of(SourceCode.NATIONAL_REGISTER)
_IDENTITY = ("person.given_names", "person.surname", "person.birth_date")

CITIZEN_SELF = "citizen:self"
CITIZEN_COMPANY = "citizen:company"
RESIDENCE_CERTIFICATE = "citizen:certificate:residence"
HOUSEHOLD_CERTIFICATE = "citizen:certificate:household"

PURPOSES: dict[str, Purpose] = {
    purpose.code: purpose
    for purpose in (
        # The person's own view of their data (and of a person they hold a mandate for).
        Purpose(
            CITIZEN_SELF,
            _("Your own view of your data"),
            "person",
            (
                *_PERSON,
                *fields_of(SourceCode.DRIVING_LICENCES),
                *fields_of(SourceCode.TAX_CREDITS),
            ),
            self_service=True,
        ),
        Purpose(
            CITIZEN_COMPANY,
            _("The company space's view of the company's data"),
            "company",
            (*fields_of(SourceCode.COMPANY_REGISTER), *fields_of(SourceCode.VAT_ACCOUNTS)),
            self_service=True,
        ),
        Purpose(
            RESIDENCE_CERTIFICATE,
            _("Residence certificate"),
            "person",
            (
                *_IDENTITY,
                "person.national_id",
                "person.birth_place",
                "person.nationality",
                "person.address",
            ),
            self_service=True,
        ),
        Purpose(
            HOUSEHOLD_CERTIFICATE,
            _("Household composition certificate"),
            "person",
            (*_IDENTITY, "person.national_id", "person.address", "person.household"),
            self_service=True,
        ),
        # Identity checks what a person declares against the register.
        Purpose(
            "identity:declare-child",
            _("Checking a declared child against the register"),
            "person",
            ("person.children",),
            services=frozenset({"identity"}),
        ),
        Purpose(
            "identity:company-director",
            _("Checking that a company space's creator runs the company"),
            "company",
            ("company.number", "company.name", "company.directors"),
            services=frozenset({"identity"}),
        ),
        # Procedures prefill forms (each field shown with its source before use): one purpose
        # per procedure of the catalogue that names register sources, with exactly those fields
        # (services/procedures/catalogue; compared by tests/unit/test_prefill_purposes.py).
        Purpose(
            "procedures:prefill:change-of-address",
            _("Prefilling a change of address"),
            "person",
            ("person.address",),
            services=frozenset({"procedures"}),
        ),
        Purpose(
            "procedures:prefill:student-financial-aid",
            _("Prefilling an application for student financial aid"),
            "person",
            ("person.birth_date",),
            services=frozenset({"procedures"}),
        ),
        # Administrations, each for its own missions.
        Purpose(
            "acd:household-taxation",
            _("Joint taxation of a household"),
            "person",
            (
                *_IDENTITY,
                "person.marital_status",
                "person.spouse",
                "person.children",
                "person.address",
            ),
            administrations=frozenset({"acd"}),
        ),
        Purpose(
            "ccss:affiliation",
            _("Social security affiliation"),
            "person",
            (*_IDENTITY, "person.sex", "person.nationality", "person.address"),
            administrations=frozenset({"ccss"}),
        ),
        Purpose(
            "snca:licence-points",
            _("Driving licence points procedure"),
            "person",
            (*_IDENTITY, "person.address", *fields_of(SourceCode.DRIVING_LICENCES)),
            administrations=frozenset({"snca"}),
        ),
        Purpose(
            "cae:family-benefits",
            _("Family benefits"),
            "person",
            (*_IDENTITY, "person.children", "person.household", "person.address"),
            administrations=frozenset({"cae"}),
        ),
    )
}


def find_purpose(code: str) -> Purpose | None:
    return PURPOSES.get(code)


def purpose_label(code: str) -> Text | str:
    """The purpose's name for the access log; a code no longer in the registry shows as is."""
    purpose = PURPOSES.get(code)
    return purpose.label if purpose else code
