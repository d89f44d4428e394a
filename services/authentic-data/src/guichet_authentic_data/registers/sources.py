"""The sources of authentic data and the interface every source adapter implements.

A source is a register kept by an administration. The service reads it through `Registers`; the
only implementation today is the synthetic register in this service's own database
(`repository.SyntheticRegisters`), and a real adapter (the national register's web service, the
company register's API, ...) would implement the same methods.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from guichet_authentic_data.registers.records import (
    CompanyRecord,
    DrivingLicenceRecord,
    PersonRecord,
    TaxCreditRecord,
    VatAccountRecord,
)
from guichet_kit.i18n import Catalog, Text

_ = Catalog("guichet_authentic_data")


class SourceCode(StrEnum):
    NATIONAL_REGISTER = "national-register"
    COMPANY_REGISTER = "company-register"
    DRIVING_LICENCES = "driving-licences"
    TAX_CREDITS = "tax-credits"
    VAT_ACCOUNTS = "vat-accounts"


@dataclass(frozen=True)
class Source:
    code: SourceCode
    name: Text
    # The administration keeping the register (its code).
    administration: str
    # Whose entries it holds.
    subject_kind: str  # "person" or "company"


SOURCES: dict[SourceCode, Source] = {
    source.code: source
    for source in (
        Source(
            SourceCode.NATIONAL_REGISTER,
            _("National register of natural persons"),
            "ctie",
            "person",
        ),
        Source(SourceCode.COMPANY_REGISTER, _("Trade and companies register"), "lbr", "company"),
        Source(SourceCode.DRIVING_LICENCES, _("Driving licence register"), "snca", "person"),
        Source(SourceCode.TAX_CREDITS, _("Tax credits on notarial deeds"), "aed", "person"),
        Source(SourceCode.VAT_ACCOUNTS, _("VAT accounts"), "aed", "company"),
    )
}


class Registers(Protocol):
    """Reading the registers: each method is one lookup by the entry's key; None when the
    register has no entry for it."""

    async def person(self, national_id: str) -> PersonRecord | None: ...

    async def driving_licence(self, national_id: str) -> DrivingLicenceRecord | None: ...

    async def tax_credit(self, national_id: str) -> TaxCreditRecord | None: ...

    async def company(self, number: str) -> CompanyRecord | None: ...

    async def vat_account(self, company_number: str) -> VatAccountRecord | None: ...
