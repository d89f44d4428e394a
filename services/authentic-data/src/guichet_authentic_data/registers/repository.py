"""The synthetic registers read from this service's database: each lookup is one indexed query."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import JSON, text
from sqlalchemy.ext.asyncio import AsyncSession

from guichet_authentic_data.registers.generator import TAX_CREDIT_CEILING_CENTS
from guichet_authentic_data.registers.records import (
    AddressRecord,
    CompanyRecord,
    DrivingLicenceRecord,
    PersonRecord,
    PersonRef,
    TaxCreditRecord,
    VatAccountRecord,
)


def _people(expression: str, alias: str) -> str:
    return (
        f"json_build_object('n', {alias}.national_id, 'g', {alias}.given_names, "
        f"'s', {alias}.surname, 'b', {alias}.birth_date, "
        f"'p1', {alias}.parent1_id, 'p2', {alias}.parent2_id{expression})"
    )


# The entry, its household, children, parents and spouse in one statement: four index lookups
# (primary key, household, the two parent columns) and no round trip per relative.
_PERSON = text(
    f"""
    SELECT p.*,
      (SELECT json_agg({_people("", "h")} ORDER BY h.birth_date, h.national_id)
         FROM register_persons h WHERE h.household_id = p.household_id) AS household,
      (SELECT json_agg({_people("", "c")} ORDER BY c.birth_date, c.national_id)
         FROM register_persons c
        WHERE c.parent1_id = p.national_id OR c.parent2_id = p.national_id) AS children,
      (SELECT json_agg({_people("", "q")} ORDER BY q.birth_date, q.national_id)
         FROM register_persons q WHERE q.national_id IN (p.parent1_id, p.parent2_id)) AS parents,
      (SELECT {_people("", "s")}
         FROM register_persons s WHERE s.national_id = p.spouse_id) AS spouse
    FROM register_persons p
    WHERE p.national_id = :national_id
    """  # noqa: S608 (constant fragments, no input)
).columns(household=JSON, children=JSON, parents=JSON, spouse=JSON)

_COMPANY = text(
    f"""
    SELECT c.*,
      (SELECT json_agg({_people(", 'r', d.role", "p")} ORDER BY p.surname, p.national_id)
         FROM register_company_directors d
         JOIN register_persons p ON p.national_id = d.national_id
        WHERE d.company_number = c.number) AS directors
    FROM register_companies c
    WHERE c.number = :number
    """  # noqa: S608 (constant fragments, no input)
).columns(directors=JSON)

_LICENCE = text("SELECT * FROM register_driving_licences WHERE national_id = :national_id")
_TAX_CREDIT = text("SELECT * FROM register_tax_credits WHERE national_id = :national_id")
_VAT = text("SELECT * FROM register_vat_accounts WHERE company_number = :number")


def _ref(item: dict[str, Any], role: str) -> PersonRef:
    return PersonRef(
        national_id=item["n"],
        given_names=item["g"],
        surname=item["s"],
        birth_date=date.fromisoformat(item["b"]),
        role=item.get("r", role),
    )


def _household_role(item: dict[str, Any], row: Any) -> str:
    subject = row.national_id
    if item["n"] == subject:
        return "self"
    if item["n"] == row.spouse_id:
        return "spouse"
    if subject in (item["p1"], item["p2"]):
        return "child"
    if item["n"] in (row.parent1_id, row.parent2_id):
        return "parent"
    if {item["p1"], item["p2"]} & ({row.parent1_id, row.parent2_id} - {None}):
        return "sibling"
    return "member"


def _address(row: Any) -> AddressRecord:
    return AddressRecord(
        row.street, row.house_number, row.postal_code, row.locality, row.commune, row.country
    )


class SyntheticRegisters:
    """The `Registers` of development and tests, on the session's database."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def person(self, national_id: str) -> PersonRecord | None:
        row = (await self._session.execute(_PERSON, {"national_id": national_id})).first()
        if row is None:
            return None
        return PersonRecord(
            national_id=row.national_id,
            given_names=row.given_names,
            surname=row.surname,
            birth_date=row.birth_date,
            birth_place=row.birth_place,
            sex=row.sex,
            nationality=row.nationality,
            address=_address(row),
            marital_status=row.marital_status,
            spouse=_ref(row.spouse, "spouse") if row.spouse else None,
            children=tuple(_ref(item, "child") for item in row.children or ()),
            parents=tuple(_ref(item, "parent") for item in row.parents or ()),
            household=tuple(_ref(item, _household_role(item, row)) for item in row.household or ()),
        )

    async def driving_licence(self, national_id: str) -> DrivingLicenceRecord | None:
        row = (await self._session.execute(_LICENCE, {"national_id": national_id})).first()
        if row is None:
            return None
        return DrivingLicenceRecord(
            row.national_id, row.number, row.categories, row.points, row.valid_until
        )

    async def tax_credit(self, national_id: str) -> TaxCreditRecord | None:
        row = (await self._session.execute(_TAX_CREDIT, {"national_id": national_id})).first()
        if row is None:  # no deed yet: the whole credit is left
            return TaxCreditRecord(national_id, TAX_CREDIT_CEILING_CENTS, 0)
        return TaxCreditRecord(row.national_id, row.ceiling_cents, row.used_cents)

    async def company(self, number: str) -> CompanyRecord | None:
        row = (await self._session.execute(_COMPANY, {"number": number})).first()
        if row is None:
            return None
        return CompanyRecord(
            number=row.number,
            name=row.name,
            legal_form=row.legal_form,
            address=_address(row),
            registered_on=row.registered_on,
            directors=tuple(_ref(item, "director") for item in row.directors or ()),
        )

    async def vat_account(self, company_number: str) -> VatAccountRecord | None:
        row = (await self._session.execute(_VAT, {"number": company_number})).first()
        if row is None:
            return None
        return VatAccountRecord(
            row.company_number, row.vat_number, row.balance_cents, row.last_return_period
        )
