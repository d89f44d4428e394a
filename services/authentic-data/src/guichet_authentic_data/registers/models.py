"""The synthetic registers' tables: what the administrations' registers would hold, kept in this
service's database for development and tests. Loaded in bulk by COPY (`loader`), so no foreign
keys between them: a register is a source, checked by its keeper, not by this service."""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, CheckConstraint, Date, Index, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from guichet_kit.db import Base


class RegisteredPerson(Base):
    """National register of natural persons."""

    __tablename__ = "register_persons"

    national_id: Mapped[str] = mapped_column(String(13), primary_key=True)
    given_names: Mapped[str] = mapped_column(String(100))
    surname: Mapped[str] = mapped_column(String(100))
    birth_date: Mapped[date] = mapped_column(Date)
    birth_place: Mapped[str] = mapped_column(String(100))
    sex: Mapped[str] = mapped_column(String(1))
    nationality: Mapped[str] = mapped_column(String(2))
    street: Mapped[str] = mapped_column(String(100))
    house_number: Mapped[str] = mapped_column(String(10))
    postal_code: Mapped[str] = mapped_column(String(10))
    locality: Mapped[str] = mapped_column(String(100))
    commune: Mapped[str] = mapped_column(String(100))
    country: Mapped[str] = mapped_column(String(2), default="LU")
    marital_status: Mapped[str] = mapped_column(String(10))
    # Everyone living together shares a household number.
    household_id: Mapped[int] = mapped_column(BigInteger, index=True)
    spouse_id: Mapped[str | None] = mapped_column(String(13))
    parent1_id: Mapped[str | None] = mapped_column(String(13))
    parent2_id: Mapped[str | None] = mapped_column(String(13))

    __table_args__ = (
        CheckConstraint("sex IN ('F', 'M', 'X')", name="sex"),
        CheckConstraint(
            "marital_status IN ('single', 'married', 'partnered', 'divorced', 'widowed')",
            name="marital_status",
        ),
        # A person's children: those naming them as a parent.
        Index(
            "ix_register_persons_parent1_id",
            "parent1_id",
            postgresql_where="parent1_id IS NOT NULL",
        ),
        Index(
            "ix_register_persons_parent2_id",
            "parent2_id",
            postgresql_where="parent2_id IS NOT NULL",
        ),
    )


class DrivingLicence(Base):
    __tablename__ = "register_driving_licences"

    national_id: Mapped[str] = mapped_column(String(13), primary_key=True)
    number: Mapped[str] = mapped_column(String(12))
    categories: Mapped[str] = mapped_column(String(40))
    points: Mapped[int] = mapped_column(SmallInteger)
    valid_until: Mapped[date] = mapped_column(Date)

    __table_args__ = (CheckConstraint("points BETWEEN 0 AND 12", name="points"),)


class TaxCredit(Base):
    __tablename__ = "register_tax_credits"

    national_id: Mapped[str] = mapped_column(String(13), primary_key=True)
    ceiling_cents: Mapped[int] = mapped_column(BigInteger)
    used_cents: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (CheckConstraint("used_cents >= 0", name="used"),)


class RegisteredCompany(Base):
    """Trade and companies register."""

    __tablename__ = "register_companies"

    number: Mapped[str] = mapped_column(String(7), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    legal_form: Mapped[str] = mapped_column(String(10))
    street: Mapped[str] = mapped_column(String(100))
    house_number: Mapped[str] = mapped_column(String(10))
    postal_code: Mapped[str] = mapped_column(String(10))
    locality: Mapped[str] = mapped_column(String(100))
    commune: Mapped[str] = mapped_column(String(100))
    country: Mapped[str] = mapped_column(String(2), default="LU")
    registered_on: Mapped[date] = mapped_column(Date)


class CompanyDirector(Base):
    __tablename__ = "register_company_directors"

    company_number: Mapped[str] = mapped_column(String(7), primary_key=True)
    national_id: Mapped[str] = mapped_column(String(13), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(10))

    __table_args__ = (CheckConstraint("role IN ('manager', 'director')", name="role"),)


class VatAccount(Base):
    __tablename__ = "register_vat_accounts"

    company_number: Mapped[str] = mapped_column(String(7), primary_key=True)
    vat_number: Mapped[str] = mapped_column(String(10), unique=True)
    balance_cents: Mapped[int] = mapped_column(BigInteger)
    last_return_period: Mapped[str] = mapped_column(String(7))
