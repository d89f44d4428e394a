"""What a register says about a person or a company, as the rules read it (no database here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True, slots=True)
class AddressRecord:
    street: str
    house_number: str
    postal_code: str
    locality: str
    commune: str
    country: str = "LU"


@dataclass(frozen=True, slots=True)
class PersonRef:
    """A person named in another entry: a household member, a spouse, a child, a director."""

    national_id: str
    given_names: str
    surname: str
    birth_date: date
    # Their link to the entry's subject: self, spouse, child, parent, sibling, member (of the
    # household), manager, director.
    role: str


@dataclass(frozen=True, slots=True)
class PersonRecord:
    """An entry of the national register of natural persons."""

    national_id: str
    given_names: str
    surname: str
    birth_date: date
    birth_place: str
    sex: str  # F, M or X
    nationality: str  # ISO 3166-1 alpha-2
    address: AddressRecord
    marital_status: str  # single, married, partnered, divorced, widowed
    spouse: PersonRef | None = None
    children: tuple[PersonRef, ...] = ()
    parents: tuple[PersonRef, ...] = ()
    # Everyone registered at the same household, the person included.
    household: tuple[PersonRef, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class DrivingLicenceRecord:
    national_id: str
    number: str
    categories: str  # e.g. "AM B BE"
    points: int  # of 12
    valid_until: date


@dataclass(frozen=True, slots=True)
class TaxCreditRecord:
    """The tax credit on notarial deeds ("Bëllegen Akt"): a ceiling per person, used by deeds."""

    national_id: str
    ceiling_cents: int
    used_cents: int

    @property
    def remaining_cents(self) -> int:
        return max(self.ceiling_cents - self.used_cents, 0)


@dataclass(frozen=True, slots=True)
class CompanyRecord:
    """An entry of the trade and companies register."""

    number: str
    name: str
    legal_form: str
    address: AddressRecord
    registered_on: date
    directors: tuple[PersonRef, ...] = ()


@dataclass(frozen=True, slots=True)
class VatAccountRecord:
    company_number: str
    vat_number: str
    # Positive: the company owes it; negative: a credit in the company's favour.
    balance_cents: int
    last_return_period: str  # e.g. "2025-Q1"
