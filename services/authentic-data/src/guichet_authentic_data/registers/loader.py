"""Filling the synthetic registers: in bulk for a seed (`make seed-registers`), or one entry at a
time for a test that needs a given person (identity's test people have national ids of their own).

The bulk load streams the generator's batches into the tables with PostgreSQL's COPY (asyncpg's
`copy_records_to_table`), after emptying them; the secondary indexes are dropped during the load
and built once at the end, which is faster than maintaining them row by row.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date

import asyncpg
from sqlalchemy import Index, delete, insert, make_url
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.schema import CreateIndex

from guichet_authentic_data.registers import generator as g
from guichet_authentic_data.registers.models import (
    CompanyDirector,
    DrivingLicence,
    RegisteredCompany,
    RegisteredPerson,
    TaxCredit,
    VatAccount,
)
from guichet_authentic_data.registers.records import AddressRecord
from guichet_kit.db import Base
from guichet_kit.national_id import validate_national_id

_TABLES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("persons", "register_persons", g.PERSON_COLUMNS),
    ("licences", "register_driving_licences", g.LICENCE_COLUMNS),
    ("tax_credits", "register_tax_credits", g.TAX_CREDIT_COLUMNS),
    ("companies", "register_companies", g.COMPANY_COLUMNS),
    ("directors", "register_company_directors", g.DIRECTOR_COLUMNS),
    ("vat_accounts", "register_vat_accounts", g.VAT_COLUMNS),
)
# Households of entries made by tests: beyond any generated household number.
_TEST_HOUSEHOLDS = 20_000_000_000_000


def asyncpg_dsn(database_url: str) -> str:
    """The service's SQLAlchemy URL (postgresql+asyncpg://...) as a plain libpq DSN."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass(frozen=True)
class LoadReport:
    persons: int
    licences: int
    tax_credits: int
    companies: int
    directors: int
    vat_accounts: int
    copy_seconds: float
    index_seconds: float


def _secondary_indexes(table: str) -> list[Index]:
    # Primary keys and unique constraints stay: they are what the load must respect.
    return sorted(Base.metadata.tables[table].indexes, key=lambda index: str(index.name))


async def load_registers(
    database_url: str,
    seed: int,
    persons: int,
    *,
    progress: Callable[[int], None] = lambda made: None,
) -> LoadReport:
    """Replace the synthetic registers by the ones of `seed` with about `persons` people."""
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    counts = dict.fromkeys((name for name, _, _ in _TABLES), 0)
    try:
        names = ", ".join(table for _, table, _ in _TABLES)
        await connection.execute(f"TRUNCATE {names}")
        indexes = [index for _, table, _ in _TABLES for index in _secondary_indexes(table)]
        for index in indexes:
            await connection.execute(f'DROP INDEX IF EXISTS "{index.name}"')
        started = time.perf_counter()
        for batch in g.generate(seed, persons):
            for name, table, columns in _TABLES:
                rows: Sequence[tuple[object, ...]] = getattr(batch, name)
                if rows:
                    await connection.copy_records_to_table(table, records=rows, columns=columns)
                    counts[name] += len(rows)
            progress(counts["persons"])
        copied = time.perf_counter()
        for index in indexes:
            await connection.execute(str(CreateIndex(index).compile(dialect=dialect)))
        for _, table, _ in _TABLES:
            await connection.execute(f"ANALYZE {table}")
        indexed = time.perf_counter()
    finally:
        await connection.close()
    return LoadReport(**counts, copy_seconds=copied - started, index_seconds=indexed - copied)


# ---- entries for tests ----

DEFAULT_ADDRESS = AddressRecord("rue de la Gare", "12", "1611", "Luxembourg", "Luxembourg")


@dataclass(frozen=True)
class PersonEntry:
    """A person to put in the national register (and optionally the other registers)."""

    national_id: str
    given_names: str = "Anne"
    surname: str = "Muller"
    sex: str = "F"
    birth_place: str = "Luxembourg"
    nationality: str = "LU"
    address: AddressRecord = DEFAULT_ADDRESS
    marital_status: str = "single"
    # Same number = same household; None: a household of their own.
    household_id: int | None = None
    spouse_id: str | None = None
    parent_ids: tuple[str, ...] = ()
    licence_points: int | None = None
    licence_categories: str = "B"
    tax_credit_used_cents: int | None = None


@dataclass(frozen=True)
class CompanyEntry:
    number: str
    name: str = "Muller Consulting SARL"
    legal_form: str = "SARL"
    address: AddressRecord = DEFAULT_ADDRESS
    registered_on: date = date(2010, 3, 1)
    # (national id, "manager" or "director"); the persons must be entered too.
    directors: tuple[tuple[str, str], ...] = ()
    vat_balance_cents: int | None = None
    vat_number: str = field(default="")


def household_of(national_id: str) -> int:
    """The household number `enter_person` gives someone entered without one."""
    return _TEST_HOUSEHOLDS + int(national_id)


async def enter_person(session: AsyncSession, entry: PersonEntry) -> None:
    """Make `entry` the register's truth for that national id (replacing what was there),
    in the caller's transaction."""
    birth = validate_national_id(entry.national_id).birth_date
    nid = entry.national_id
    for model in (RegisteredPerson, DrivingLicence, TaxCredit):
        await session.execute(delete(model).where(model.national_id == nid))
    parents = (*entry.parent_ids, None, None)
    a = entry.address
    await session.execute(
        insert(RegisteredPerson).values(
            national_id=nid,
            given_names=entry.given_names,
            surname=entry.surname,
            birth_date=birth,
            birth_place=entry.birth_place,
            sex=entry.sex,
            nationality=entry.nationality,
            street=a.street,
            house_number=a.house_number,
            postal_code=a.postal_code,
            locality=a.locality,
            commune=a.commune,
            country=a.country,
            marital_status=entry.marital_status,
            household_id=entry.household_id or household_of(nid),
            spouse_id=entry.spouse_id,
            parent1_id=parents[0],
            parent2_id=parents[1],
        )
    )
    if entry.licence_points is not None:
        await session.execute(
            insert(DrivingLicence).values(
                national_id=nid,
                number=nid[-6:],
                categories=entry.licence_categories,
                points=entry.licence_points,
                valid_until=date(birth.year + 90, 1, 1),
            )
        )
    if entry.tax_credit_used_cents is not None:
        await session.execute(
            insert(TaxCredit).values(
                national_id=nid,
                ceiling_cents=g.TAX_CREDIT_CEILING_CENTS,
                used_cents=entry.tax_credit_used_cents,
            )
        )


async def enter_company(session: AsyncSession, entry: CompanyEntry) -> None:
    """Make `entry` the company register's truth for that number (replacing what was there)."""
    for model, column in (
        (RegisteredCompany, RegisteredCompany.number),
        (CompanyDirector, CompanyDirector.company_number),
        (VatAccount, VatAccount.company_number),
    ):
        await session.execute(delete(model).where(column == entry.number))
    a = entry.address
    await session.execute(
        insert(RegisteredCompany).values(
            number=entry.number,
            name=entry.name,
            legal_form=entry.legal_form,
            street=a.street,
            house_number=a.house_number,
            postal_code=a.postal_code,
            locality=a.locality,
            commune=a.commune,
            country=a.country,
            registered_on=entry.registered_on,
        )
    )
    for national_id, role in entry.directors:
        await session.execute(
            insert(CompanyDirector).values(
                company_number=entry.number, national_id=national_id, role=role
            )
        )
    if entry.vat_balance_cents is not None:
        digits = int(entry.number[1:])
        await session.execute(
            insert(VatAccount).values(
                company_number=entry.number,
                vat_number=entry.vat_number or g.vat_number(900_000 + digits % 100_000),
                balance_cents=entry.vat_balance_cents,
                last_return_period="2025-Q1",
            )
        )
